import PlexusCore

/// Builds multilayer perceptrons: stacks of ``Dense`` layers with optional dropout.
///
/// ```swift
/// let model = try MLP.make(inputs: 64, hidden: [128, 64], outputs: 10, activation: .relu)
/// // dense_1 [N, 128] -> dense_2 [N, 64] -> dense_3 [N, 10]
/// ```
public enum MLP {
  /// Creates and builds a multilayer perceptron `inputs -> hidden... -> outputs`.
  ///
  /// Every hidden layer is a ``Dense`` layer with `activation`, followed by a `Dropout`
  /// layer when `dropout > 0`; the output layer is a ``Dense`` layer with `outputActivation`
  /// (linear by default: logits for a softmax cross-entropy loss). The model is built for
  /// input shape `[inputs]` with weights drawn from `seed`.
  ///
  /// - Parameters:
  ///   - inputs: the number of input features.
  ///   - hidden: the widths of the hidden layers, in order (may be empty).
  ///   - outputs: the number of outputs.
  ///   - activation: the hidden layers' activation.
  ///   - outputActivation: the output layer's activation.
  ///   - dropout: the dropout rate after each hidden layer, in `[0, 1)`; `0` adds none.
  ///   - kernelInitializer: how every kernel is initialized.
  ///   - seed: the seed of weight initialization and dropout masks.
  ///   - name: the model's name.
  /// - Throws: `PlexusError.invalidConfiguration` for a non-positive size or a dropout rate
  ///   outside `[0, 1)`.
  public static func make(
    inputs: Int, hidden: [Int], outputs: Int, activation: ActivationFunction = .relu,
    outputActivation: ActivationFunction = .linear, dropout: Float = 0,
    kernelInitializer: Initializer = .glorotUniform, seed: UInt64 = 0, name: String = ""
  ) throws -> Sequential {
    guard inputs > 0 else {
      throw PlexusError.invalidConfiguration("MLP inputs must be positive, got \(inputs)")
    }
    guard outputs > 0 else {
      throw PlexusError.invalidConfiguration("MLP outputs must be positive, got \(outputs)")
    }
    if let index = hidden.firstIndex(where: { $0 <= 0 }) {
      throw PlexusError.invalidConfiguration(
        "MLP hidden layer \(index) must have a positive width, got \(hidden[index])")
    }
    guard dropout >= 0, dropout < 1 else {
      throw PlexusError.invalidConfiguration("MLP dropout must be in [0, 1), got \(dropout)")
    }
    let model = Sequential(name: name)
    for width in hidden {
      model.add(
        try Dense(
          config: Dense.Config(
            units: width, activation: activation, kernelInitializer: kernelInitializer)))
      if dropout > 0 { model.add(try Dropout(rate: dropout)) }
    }
    model.add(
      try Dense(
        config: Dense.Config(
          units: outputs, activation: outputActivation, kernelInitializer: kernelInitializer)))
    try model.build(inputShape: [inputs], seed: seed)
    return model
  }
}
