import DigitsClassifier
import Foundation
import Plexus
import Testing

/// The generated `DigitsMLP` against the same file loaded with the library.
@Suite struct GeneratedModelTests {
  @Test func predictsWhatTheLibraryPredicts() throws {
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Sources/DigitsClassifier/digits-mlp.plexus")
    let library = try loadModel(from: file, registry: .standard())
    let generated = try DigitsMLP()
    let digits = try Digits.load().samples(0..<50)
    let outputs = try library.predict(digits.features).scalars
    for sample in 0..<50 {
      var pixels = DigitsMLP.Input(repeating: 0)
      for index in 0..<64 { pixels[index] = digits.features.scalars[sample * 64 + index] }
      let prediction = try generated.predict(pixels)
      let logits = Array(outputs[(sample * 10)..<(sample * 10 + 10)])
      let largest = logits.max()!
      let exponentials = logits.map { exp($0 - largest) }
      let total = exponentials.reduce(0, +)
      for index in 0..<10 {
        #expect(abs(prediction.probabilities[index] - exponentials[index] / total) < 1e-6)
      }
      #expect(prediction.topClass == logits.firstIndex(of: largest))
    }
  }

  @Test func describesTheModel() {
    #expect(DigitsMLP.inputShape == [64] && DigitsMLP.outputShape == [10])
    #expect(DigitsMLP.classCount == 10)
    #expect(DigitsMLP.modelDescription == "digits-mlp")
    #expect(DigitsMLP.metadata["producer"]?.hasPrefix("Plexus ") == true)
    #expect(DigitsMLP.metadata["epochsCompleted"] == "5")
    #expect(DigitsMLP.metadata["plexus.loss"]?.contains("categorical_crossentropy") == true)
  }
}
