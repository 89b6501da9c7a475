// The VideoResNet configurations against torchvision's published facts.
import Foundation
import Testing
import VidarNN

struct ConfigTests {
    /// torchvision's `num_params` metadata for the three Kinetics-400 weights (models/video/resnet.py).
    @Test func parameterCountsMatchTorchvision() {
        #expect(VideoResNetLayout(.r3d18()).parameterCount == 33_371_472)
        #expect(VideoResNetLayout(.mc318()).parameterCount == 11_695_440)
        #expect(VideoResNetLayout(.r2plus1d18()).parameterCount == 31_505_325)
    }

    @Test func r3d18CostsTheKnownMultiplyAdds() {
        let macs = VideoResNetLayout(.r3d18()).multiplyAdds(t: 16, h: 112, w: 112)!
        #expect(abs(Double(macs) / 1e9 - 40.7) < 0.05)
    }

    @Test func midPlanesFollowTorchvisionFormula() {
        #expect(VideoResNetConfig.midPlanes(inPlanes: 64, planes: 64) == 144)
        #expect(VideoResNetConfig.midPlanes(inPlanes: 64, planes: 128) == 230)
        #expect(VideoResNetConfig.midPlanes(inPlanes: 128, planes: 128) == 288)
        let layout = VideoResNetLayout(.r2plus1d18())
        #expect(layout.stages[1][0].conv1[0].geometry.outChannels == 230)
        #expect(layout.stages[1][0].conv2[0].geometry.inChannels == 128)
        #expect(layout.stages[1][0].conv2[0].geometry.outChannels == 230)
        #expect(layout.stages[1][1].conv1[0].geometry.outChannels == 288)
    }

    @Test func downsampleStridesFollowTheConvKind() {
        #expect(VideoResNetLayout(.r3d18()).stages[1][0].downsample?.geometry.stride == .all(2))
        #expect(VideoResNetLayout(.mc318()).stages[1][0].downsample?.geometry.stride == Dims3(1, 2, 2))
        #expect(VideoResNetLayout(.r3d18()).stages[0][0].downsample == nil)
    }

    @Test func configurationRoundTripsThroughJSON() throws {
        let c = VideoResNetConfig(stem: .r2plus1d, stemWidth: 8, stemMidWidth: 6, convKinds: [.conv3d, .conv2plus1d],
                                  blocks: [1, 2], widths: [8, 16], numClasses: 3)
        #expect(try JSONDecoder().decode(VideoResNetConfig.self, from: JSONEncoder().encode(c)) == c)
        #expect(c.validationError() == nil)
        var bad = c
        bad.blocks = [1]
        #expect(bad.validationError() != nil)
    }

    @Test func kineticsLabelsAreTorchvisionsInOrder() throws {
        let text = try String(contentsOfFile: try Fixtures.path("kinetics400_labels.txt"), encoding: .utf8)
        let torchvision = text.split(separator: "\n").map(String.init)
        #expect(torchvision.count == 400)
        #expect(KineticsLabels.kinetics400 == torchvision)
    }
}
