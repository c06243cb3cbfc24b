// The model's type, `DigitsMLP`, is generated at build time by the PlexusModelCodegen plugin
// from `digits-mlp.plexus` (trained from ../../digits-mlp.json with
// `swift package plexus-train digits-mlp.json -o Sources/DigitsClassifier/digits-mlp.plexus`).

/// The digit that `DigitsMLP` sees in `pixels` (64 values, 0 to 16, row by row).
///
/// - Throws: the model's loading or prediction errors.
public func classifyDigit(_ pixels: DigitsMLP.Input) throws -> (digit: Int, probability: Float) {
  let prediction = try DigitsMLP().predict(pixels)
  return (prediction.topClass, prediction.probabilities[prediction.topClass])
}
