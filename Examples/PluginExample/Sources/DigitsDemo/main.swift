import DigitsClassifier
import Plexus

// Classifies the first digits of the bundled data set with the generated `DigitsMLP`.
let digits = try Digits.load()
let features = digits.features.scalars
var correct = 0
let count = 20
for sample in 0..<count {
  var pixels = DigitsMLP.Input(repeating: 0)
  for index in 0..<64 { pixels[index] = features[sample * 64 + index] }
  let (digit, probability) = try classifyDigit(pixels)
  let label = Int(digits.labels.scalars[sample])
  if digit == label { correct += 1 }
  print("sample \(sample): digit \(digit) (p = \(probability)), label \(label)")
}
print("\(correct) of \(count) correct; model: \(DigitsMLP.modelDescription)")
