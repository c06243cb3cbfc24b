import Foundation
import Plexus

/// A small model that uses one layer type, with a fixed input, for round trips and golden files.
struct SampleModel: Sendable {
  /// Creates the unbuilt model.
  let make: @Sendable () throws -> Sequential
  /// The per-sample input shape.
  let inputShape: [Int]
  /// When set, the inputs are integer ids in `0..<idCount` (for an embedding) instead of
  /// standard normal values.
  var idCount: Int? = nil

  /// The model built with a fixed seed.
  func built(seed: UInt64 = 11) throws -> Sequential {
    let model = try make()
    try model.build(inputShape: inputShape, seed: seed)
    return model
  }

  /// A fixed batch of 3 inputs.
  func input(seed: UInt64 = 5) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    if let idCount {
      return Tensor.uniform([3] + inputShape, low: 0, high: Float(idCount), using: &generator)
        .map { $0.rounded(.down) }
    }
    return Tensor.normal([3] + inputShape, using: &generator)
  }
}

/// One sample model per registered layer type. A layer type registered in
/// `LayerRegistry.standard()` without an entry here fails the conformance test: a module that
/// adds layers must add them here, so every layer is proven to survive a save and a load.
enum SampleModels {
  /// Three dense layers with a regularizer, no bias in one and several activations.
  static let dense = SampleModel(
    make: {
      Sequential([
        try Dense(units: 8, activation: .relu, kernelRegularizer: Regularizer(l2: 0.01)),
        try Dense(units: 5, activation: .leakyRelu(alpha: 0.1), useBias: false),
        try Dense(units: 3, activation: .softmax),
      ])
    }, inputShape: [6])

  /// A sequential model around a graph `Model` of one input `[4]` whose output `body` makes
  /// (merge and axis layers take several tensors, so they live in a graph).
  static func merging(_ body: @escaping @Sendable (SymbolicTensor) throws -> SymbolicTensor)
    -> SampleModel
  {
    SampleModel(
      make: {
        let x = try Input(shape: [4], name: "x")
        let graph = try Model(inputs: [x], outputs: [try body(x)], seed: 3)
        return Sequential([graph, try Dense(units: 2)])
      }, inputShape: [4])
  }

  static let byLayerType: [String: SampleModel] = [
    // Bernoulli visible units take values in [0, 1]: a sigmoid layer feeds them.
    "plexus.rbm": SampleModel(
      make: {
        Sequential([
          try Dense(units: 5, activation: .sigmoid),
          try RBMLayer(hiddenUnits: 4, weightStandardDeviation: 0.5), try Dense(units: 2),
        ])
      }, inputShape: [3]),
    "plexus.rbm_model": SampleModel(
      make: {
        Sequential([
          try Dense(units: 6, activation: .sigmoid), try RBM(visible: 6, hidden: 3, seed: 2),
          try RBM(visible: 3, hidden: 4, visibleUnits: .gaussian, gibbsSteps: 2, seed: 3),
          try Dense(units: 2),
        ])
      }, inputShape: [3]),
    "plexus.dbn": SampleModel(
      make: {
        Sequential([
          try Dense(units: 5, activation: .sigmoid),
          try DBN(
            config: DBN.Config(
              sizes: [5, 4, 3], gibbsSteps: 2, weightStandardDeviation: 0.5, classes: 2,
              headActivation: .tanh, seed: 4)),
        ])
      }, inputShape: [3]),
    "plexus.autoencoder": SampleModel(
      make: {
        Sequential([
          try Autoencoder(
            encoder: Sequential([try Dense(units: 3, activation: .tanh)]),
            decoder: Sequential([try Dense(units: 4, activation: .sigmoid)]), inputShape: [4],
            loss: .meanAbsoluteError, seed: 2),
          try Dense(units: 2),
        ])
      }, inputShape: [4]),
    "plexus.contractive_dense": SampleModel(
      make: {
        Sequential([
          try ContractiveDense(units: 5, activation: .tanh, weight: 0.3), try Dense(units: 2),
        ])
      }, inputShape: [4]),
    "plexus.dense_tied": SampleModel(
      make: {
        let down = try Dense(units: 3, activation: .tanh)
        return Sequential([
          down, try DenseTied(tiedTo: down, units: 5, activation: .sigmoid), try Dense(units: 2),
        ])
      }, inputShape: [5]),
    "plexus.vae": SampleModel(
      make: {
        Sequential([
          try VAE(
            encoder: Sequential([try Dense(units: 3, activation: .tanh)]),
            decoder: Sequential([try Dense(units: 4, activation: .sigmoid)]), inputShape: [4],
            latentDimension: 2, likelihood: .gaussian, klWeight: 0.5, samplingSeed: 3, seed: 2),
          try Dense(units: 2),
        ])
      }, inputShape: [4]),
    "plexus.gaussian_sampling": merging { x in
      try GaussianSampling(klWeight: 0.5, seed: 4)([
        try Dense(units: 3)(x), try Dense(units: 3, activation: .tanh)(x),
      ])
    },
    "plexus.gaussian_noise": SampleModel(
      make: {
        Sequential([
          try GaussianNoise(stddev: 0.2, seed: 3), try Dense(units: 4, activation: .relu),
          try GaussianNoise(stddev: 0.1), try Dense(units: 2),
        ])
      }, inputShape: [5]),
    "plexus.masking_noise": SampleModel(
      make: {
        Sequential([try MaskingNoise(rate: 0.3, seed: 3), try Dense(units: 3)])
      }, inputShape: [5]),
    "plexus.activity_regularization": SampleModel(
      make: {
        Sequential([
          try Dense(units: 4, activation: .relu), try ActivityRegularization(l1: 0.01, l2: 0.02),
          try Dense(units: 2),
        ])
      }, inputShape: [3]),
    "plexus.kl_sparsity": SampleModel(
      make: {
        Sequential([
          try Dense(units: 4, activation: .sigmoid),
          try KLDivergenceSparsity(target: 0.1, weight: 0.5), try Dense(units: 2),
        ])
      }, inputShape: [3]),
    "plexus.sequential": SampleModel(
      make: {
        Sequential([
          Sequential([try Dense(units: 4, activation: .tanh), try Dense(units: 3)]),
          try Dense(units: 2),
        ])
      }, inputShape: [5]),
    "plexus.activation": SampleModel(
      make: { Sequential([try Dense(units: 4), Activation(.gelu), Activation(.softmax)]) },
      inputShape: [3]),
    "plexus.prelu": SampleModel(
      make: {
        Sequential([
          try Dense(units: 6), try PReLU(), try Reshape([2, 3]),
          try PReLU(alphaInitializer: .initializer(.heNormal), sharedAxes: [1]), Flatten(),
          try Dense(units: 2),
        ])
      }, inputShape: [4]),
    "plexus.dropout": SampleModel(
      make: {
        Sequential([
          try Dense(units: 6, activation: .relu), try Dropout(rate: 0.3, seed: 9),
          try Dense(units: 2),
        ])
      },
      inputShape: [4]),
    "plexus.flatten": SampleModel(
      make: { Sequential([Flatten(), try Dense(units: 3, activation: .sigmoid)]) },
      inputShape: [2, 3]),
    "plexus.reshape": SampleModel(
      make: {
        Sequential([try Dense(units: 6), try Reshape([2, -1]), Flatten(), try Dense(units: 2)])
      },
      inputShape: [4]),
    "plexus.dense": dense,
    "plexus.model": merging { x in try Add()([try Dense(units: 4, activation: .tanh)(x), x]) },
    "plexus.add": merging { x in try Add()([try Dense(units: 4)(x), x]) },
    "plexus.subtract": merging { x in try Subtract()([try Dense(units: 4)(x), x]) },
    "plexus.multiply": merging { x in try Multiply()([try Dense(units: 4)(x), x]) },
    "plexus.average": merging { x in try Average()([try Dense(units: 4)(x), x, x]) },
    "plexus.maximum": merging { x in try Maximum()([try Dense(units: 4)(x), x]) },
    "plexus.minimum": merging { x in try Minimum()([try Dense(units: 4)(x), x]) },
    "plexus.concatenate": merging { x in try Concatenate()([try Dense(units: 3)(x), x]) },
    "plexus.split": merging { x in
      let parts = try Split(sizes: [1, 3]).call([try Dense(units: 4)(x)])
      return try Concatenate()([parts[1], parts[0]])
    },
    "plexus.slice": SampleModel(
      make: { Sequential([try Dense(units: 6), try SliceLayer(start: 2, length: 3)]) },
      inputShape: [4]),
    "plexus.perceptron": SampleModel(
      make: {
        Sequential([
          try Dense(units: 4, activation: .tanh),
          try Perceptron(config: Perceptron.Config(units: 3, kernelInitializer: .glorotUniform)),
        ])
      }, inputShape: [5]),
    "plexus.conv2d": SampleModel(
      make: {
        Sequential([
          try Conv2D(filters: 4, kernelSize: 3, padding: .same, activation: .relu),
          try Conv2D(
            config: .init(
              filters: 2, kernelSize: [2, 3], strides: [2, 1],
              padding: .explicit(top: 1, bottom: 0, left: 1, right: 1),
              dilation: [1, 2], useBias: false, kernelRegularizer: Regularizer(l2: 0.01))),
          Flatten(), try Dense(units: 3),
        ])
      }, inputShape: [6, 5, 2]),
    "plexus.conv1d": SampleModel(
      make: {
        Sequential([
          try Conv1D(filters: 4, kernelSize: 3, padding: .same, activation: .tanh),
          try Conv1D(filters: 2, kernelSize: 2, strides: 2, dilation: 1), Flatten(),
          try Dense(units: 2),
        ])
      }, inputShape: [9, 3]),
    "plexus.conv2d_transpose": SampleModel(
      make: {
        Sequential([
          try Conv2DTranspose(
            filters: 3, kernelSize: 3, strides: 2, padding: .same, activation: .relu),
          Flatten(), try Dense(units: 2),
        ])
      }, inputShape: [3, 3, 2]),
    "plexus.max_pool2d": SampleModel(
      make: {
        Sequential([
          try Conv2D(filters: 3, kernelSize: 3, padding: .same),
          try MaxPool2D(poolSize: 3, strides: 2, padding: .same),
          Flatten(), try Dense(units: 2),
        ])
      }, inputShape: [6, 6, 1]),
    "plexus.average_pool2d": SampleModel(
      make: { Sequential([try AveragePool2D(poolSize: 2), Flatten(), try Dense(units: 2)]) },
      inputShape: [4, 5, 2]),
    "plexus.global_average_pool2d": SampleModel(
      make: {
        Sequential([
          try Conv2D(filters: 4, kernelSize: 3), GlobalAveragePool2D(), try Dense(units: 2),
        ])
      },
      inputShape: [5, 5, 1]),
    "plexus.global_max_pool2d": SampleModel(
      make: {
        Sequential([
          try Conv2D(filters: 4, kernelSize: 3), GlobalMaxPool2D(keepDims: true), Flatten(),
          try Dense(units: 2),
        ])
      }, inputShape: [5, 5, 1]),
    "plexus.batch_normalization": SampleModel(
      make: {
        Sequential([
          try Conv2D(filters: 3, kernelSize: 3, padding: .same),
          try BatchNormalization(momentum: 0.9, epsilon: 1e-5),
          Flatten(), try Dense(units: 2),
        ])
      }, inputShape: [4, 4, 2]),
    "plexus.zero_padding2d": SampleModel(
      make: {
        Sequential([
          try ZeroPadding2D(top: 1, bottom: 0, left: 2, right: 1),
          try Conv2D(filters: 2, kernelSize: 3), Flatten(),
          try Dense(units: 2),
        ])
      }, inputShape: [4, 4, 1]),
    "plexus.pad2d": SampleModel(
      make: {
        Sequential([
          try Pad2D(top: 1, bottom: 0, left: 2, right: 1, mode: .reflect),
          try Pad2D(top: 0, bottom: 1, left: 0, right: 0, value: 0.5),
          try Conv2D(filters: 2, kernelSize: 3), Flatten(), try Dense(units: 2),
        ])
      }, inputShape: [4, 4, 2]),
    "plexus.depthwise_conv2d": SampleModel(
      make: {
        Sequential([
          try DepthwiseConv2D(
            kernelSize: 3, strides: 2, padding: .same, depthMultiplier: 2, activation: .relu),
          try Conv2D(config: .init(filters: 4, kernelSize: [1, 1], groups: 2)), Flatten(),
          try Dense(units: 2),
        ])
      }, inputShape: [5, 5, 3]),
    "plexus.separable_conv2d": SampleModel(
      make: {
        Sequential([
          try SeparableConv2D(
            filters: 4, kernelSize: 3, padding: .same, depthMultiplier: 2, activation: .relu),
          Flatten(), try Dense(units: 2),
        ])
      }, inputShape: [4, 4, 2]),
    "plexus.simple_rnn": SampleModel(
      make: {
        Sequential([
          try SimpleRNN(units: 4, returnSequences: true, activation: .relu),
          try SimpleRNN(units: 3, goBackwards: true), try Dense(units: 2),
        ])
      }, inputShape: [5, 3]),
    "plexus.lstm": SampleModel(
      make: {
        Sequential([
          try LSTM(units: 4, returnSequences: true),
          try LSTM(
            config: .init(
              units: 3, unitForgetBias: false, recurrentInitializer: .glorotUniform,
              maskValue: 0)),
          try Dense(units: 2),
        ])
      }, inputShape: [5, 3]),
    "plexus.gru": SampleModel(
      make: {
        Sequential([
          try GRU(units: 4, returnSequences: true, goBackwards: true),
          try GRU(units: 3, resetAfter: false), try Dense(units: 2),
        ])
      }, inputShape: [5, 3]),
    "plexus.masking": SampleModel(
      make: {
        Sequential([try Masking(maskValue: -1), try LSTM(units: 3), try Dense(units: 2)])
      }, inputShape: [4, 3]),
    // Lengths in {0, 1} from the sign of each sequence's first value.
    "plexus.length_masking": SampleModel(
      make: {
        let x = try Input(shape: [4, 3])
        let first = try SliceLayer(axis: -1, start: 0, length: 1)(try Flatten()(x))
        let lengths = try Activation(try ActivationFunction(name: "step"))(first)
        let masked = try LengthMasking()([x, lengths])
        let model = try Model(inputs: [x], outputs: [try GRU(units: 3)(masked)])
        return Sequential([model, try Dense(units: 2)])
      }, inputShape: [4, 3]),
    "plexus.embedding": SampleModel(
      make: {
        Sequential([
          try Embedding(inputDim: 7, outputDim: 4, maskZero: true), try GRU(units: 3),
          try Dense(units: 2),
        ])
      }, inputShape: [5], idCount: 7),
    "plexus.bidirectional": SampleModel(
      make: {
        Sequential([
          try Bidirectional(try LSTM(units: 3, returnSequences: true)),
          try Bidirectional(try GRU(units: 2, resetAfter: false), mergeMode: .multiply),
          try Dense(units: 2),
        ])
      }, inputShape: [5, 3]),
    "plexus.time_distributed": SampleModel(
      make: {
        Sequential([
          TimeDistributed(try Dense(units: 4, activation: .relu)),
          try LSTM(units: 3), try Dense(units: 2),
        ])
      }, inputShape: [5, 3]),
    "plexus.up_sampling2d": SampleModel(
      make: {
        Sequential([
          try UpSampling2D(config: .init(size: [2, 3])), try Conv2D(filters: 2, kernelSize: 3),
          Flatten(), try Dense(units: 2),
        ])
      }, inputShape: [3, 3, 1]),
  ]

  /// Every convolution-family layer in one chain: padding, convolution, batch normalization,
  /// pooling, upsampling, transposed and 1-D convolution, global pooling.
  static let convolution = SampleModel(
    make: {
      Sequential([
        try ZeroPadding2D(1),
        try Conv2D(filters: 4, kernelSize: 3, activation: .relu),
        try BatchNormalization(),
        try MaxPool2D(poolSize: 2),
        try UpSampling2D(size: 2),
        try Conv2DTranspose(filters: 3, kernelSize: 3, strides: 2, padding: .same),
        try AveragePool2D(poolSize: 4),
        try Reshape([16, 3]),
        try Conv1D(filters: 2, kernelSize: 3, activation: .tanh),
        try Reshape([14, 1, 2]),
        GlobalMaxPool2D(keepDims: true),
        GlobalAveragePool2D(),
        try Dense(units: 2, activation: .softmax),
      ])
    }, inputShape: [8, 8, 1])
}

/// CRC-32 (ISO-HDLC) written independently of the library, to build files by hand.
enum TestCRC32 {
  static let table: [UInt32] = (0..<256).map { index in
    var value = UInt32(index)
    for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
    return value
  }

  static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
  }
}

/// Assembles `.plexus` files chunk by chunk with correct CRCs, to test the reader's structural
/// checks on hostile files.
struct FileBuilder {
  var bytes: [UInt8]

  init(major: UInt16 = 1, minor: UInt16 = 0) {
    bytes = [0x89, 0x50, 0x4C, 0x58, 0x0D, 0x0A, 0x1A, 0x0A]
    append(major)
    append(minor)
    append(TestCRC32.checksum(bytes))
  }

  mutating func append<T: FixedWidthInteger>(_ value: T) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
  }

  /// Appends a chunk; `declaredLength` overrides the length field (the CRC still covers the
  /// header as written).
  mutating func chunk(
    _ type: String, critical: Bool = true, payload: [UInt8], declaredLength: UInt64? = nil
  ) {
    var header = Array(type.utf8)
    withUnsafeBytes(of: UInt32(critical ? 1 : 0).littleEndian) { header.append(contentsOf: $0) }
    withUnsafeBytes(of: (declaredLength ?? UInt64(payload.count)).littleEndian) {
      header.append(contentsOf: $0)
    }
    bytes += header + payload
    append(TestCRC32.checksum(header + payload))
  }

  mutating func json(_ type: String, _ text: String, critical: Bool = true) {
    chunk(type, critical: critical, payload: Array(text.utf8))
  }

  /// Pads with zeros so the next chunk's payload starts at a multiple of 64.
  mutating func alignNextPayload() {
    // A skippable filler chunk: header 16 + payload + CRC 4.
    let afterEmpty = bytes.count + 16 + 4 + 16
    let padding = (64 - afterEmpty % 64) % 64
    chunk("PADD", critical: false, payload: [UInt8](repeating: 0, count: padding))
  }
}

/// A temporary folder removed at deinit.
final class TemporaryFolder {
  let url: URL

  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "plexus-format-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(at: url) }

  func file(_ name: String) -> URL { url.appendingPathComponent(name) }
}

/// Whether two tensors are equal bit for bit.
func bitwiseEqual(_ a: Tensor, _ b: Tensor) -> Bool {
  a.shape == b.shape && zip(a.scalars, b.scalars).allSatisfy { $0.bitPattern == $1.bitPattern }
}
