// Reference fixtures written by `make fixtures` with torchvision.
import Foundation
import TestSupport
import VidarNN

enum Fixtures {
    static var directory: URL { (try? TestFixtures.directory()) ?? TestFixtures.repositoryRoot.appendingPathComponent(".fixtures") }

    static func path(_ name: String) throws -> String { try TestFixtures.path(name) }

    static func npy(_ name: String) throws -> Tensor {
        try NPY.decode(Data(contentsOf: URL(fileURLWithPath: try path(name))))
    }
}
