import Foundation
import Plexus
import PlexusCommands
import Testing

@Suite struct MobileExampleTests {
  /// `Examples/digits-mobile.json` names the MobileNet-style layers with their spec keys and
  /// builds: reflect padding, a convolution, a depthwise convolution, a grouped 1x1 convolution,
  /// pooling and a separable convolution.
  @Test func mobileExampleParsesAndBuilds() throws {
    let spec = try TrainingSpec.load(
      contentsOf: examplesFolder.appendingPathComponent("digits-mobile.json"))
    #expect(
      spec.layers.map(\.type) == [
        Pad2D.typeName, Conv2D.typeName, DepthwiseConv2D.typeName, Conv2D.typeName,
        MaxPool2D.typeName, SeparableConv2D.typeName, Flatten.typeName, Dense.typeName,
      ])
    let model = try spec.buildModel(registry: .standard(), inputShape: [8, 8, 1])
    // 3*3*1*16+16, 3*3*16*2+32, 1*1*8*32+32, 3*3*32+32*32+32, 4*4*32*10+10.
    #expect(model.parameterCount == 160 + 320 + 288 + 1344 + 5130)
  }
}
