import Foundation
import Vidar
let net = try VideoResNet(contentsOf: ".fixtures/r3d_18.pth")
let x = try NPY.decode(Data(contentsOf: URL(fileURLWithPath: ".fixtures/r3d_18_1x16x112x112_input.npy")))
BLAS.setThreads(2)
let ws = Workspace()
for _ in 0..<6 {
    let t0 = Date()
    _ = net.logits(x, workspace: ws)
    print(Date().timeIntervalSince(t0))
}
