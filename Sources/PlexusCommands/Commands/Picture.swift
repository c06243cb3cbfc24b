import ArgumentParser
import Foundation
import Plexus

/// What `plexus picture` draws.
public enum PictureKind: String, CaseIterable, Sendable, ExpressibleByArgument {
  /// An RBM's filters: each hidden unit's weights as one tile, stretched to its own range.
  case filters
  /// Samples: Gibbs chains of an RBM from noise, or a VAE's decoded draws from its prior.
  case samples
  /// An autoencoder's or VAE's reconstructions: each input tile followed by its reconstruction.
  case reconstructions
  /// A 2-D VAE's decoded latent points on an evenly spaced grid over `[-2, 2]^2`.
  case latent
}

/// The settings of `plexus picture`.
public struct PictureSettings: Equatable, Sendable {
  /// The model file.
  public var modelPath: String
  /// Where the PNG file goes.
  public var outputPath: String
  /// What to draw; `nil` picks the model's natural picture (filters for an RBM,
  /// reconstructions for an autoencoder, the latent grid for a 2-D VAE, samples for other VAEs).
  public var kind: PictureKind?
  /// The inputs to reconstruct (`.npy`), needed for reconstructions.
  public var inputPath: String?
  /// How many tiles (filters, samples, inputs); for the latent grid, points per side.
  public var count: Int
  /// Gibbs steps for RBM samples.
  public var gibbsSteps: Int
  /// The seed of sampling.
  public var seed: UInt64
  /// Each value becomes a `scale x scale` block of pixels.
  public var scale: Int

  /// Creates settings.
  public init(
    modelPath: String, outputPath: String, kind: PictureKind? = nil, inputPath: String? = nil,
    count: Int = 64, gibbsSteps: Int = 1000, seed: UInt64 = 0, scale: Int = 4
  ) {
    self.modelPath = modelPath
    self.outputPath = outputPath
    self.kind = kind
    self.inputPath = inputPath
    self.count = count
    self.gibbsSteps = gibbsSteps
    self.seed = seed
    self.scale = scale
  }
}

/// `plexus picture MODEL -o out.png`: draws what a model has learnt as a PNG grid.
public struct PictureCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "picture",
    abstract: "Draw an RBM's filters or samples, or an autoencoder's reconstructions, as a PNG.",
    discussion: """
      Kinds: filters and samples (RBM), reconstructions (autoencoder, VAE; needs --input),
      samples and latent (VAE; latent needs a 2-D code). Without --kind the model's natural
      picture is drawn.
      """
  )

  /// The model file.
  @Argument(help: ArgumentHelp("The model file (.plexus).", valueName: "MODEL"))
  public var model: String

  /// Where the PNG goes.
  @Option(name: .shortAndLong, help: ArgumentHelp("The PNG file to write.", valueName: "out.png"))
  public var output: String

  /// What to draw.
  @Option(help: "What to draw: \(PictureKind.allCases.map(\.rawValue).joined(separator: ", ")).")
  public var kind: PictureKind?

  /// The inputs to reconstruct.
  @Option(
    name: .shortAndLong,
    help: ArgumentHelp("Inputs to reconstruct, an array [N, ...] (.npy).", valueName: "x.npy"))
  public var input: String?

  /// How many tiles.
  @Option(help: "Tiles to draw (1...1024); for the latent grid, points per side (2...32).")
  public var count = 64

  /// Gibbs steps for RBM samples.
  @Option(help: "Gibbs steps for RBM samples (1...100000).")
  public var gibbsSteps = 1000

  /// The seed.
  @Option(help: "The seed of sampling.")
  public var seed: UInt64 = 0

  /// Pixels per value.
  @Option(help: "Pixels per value, a side (1...32).")
  public var scale = 4

  public init() {}

  public func validate() throws {
    guard (1...1024).contains(count) else {
      throw ValidationError("--count must be in 1...1024, got \(count)")
    }
    guard (1...100_000).contains(gibbsSteps) else {
      throw ValidationError("--gibbs-steps must be in 1...100000, got \(gibbsSteps)")
    }
    guard (1...32).contains(scale) else {
      throw ValidationError("--scale must be in 1...32, got \(scale)")
    }
  }

  /// The settings these arguments give.
  public var settings: PictureSettings {
    PictureSettings(
      modelPath: model, outputPath: output, kind: kind, inputPath: input, count: count,
      gibbsSteps: gibbsSteps, seed: seed, scale: scale)
  }

  public func run() throws {
    try Picture.run(settings, console: StandardOutput())
  }
}

/// The work behind `plexus picture`.
public enum Picture {
  /// Draws the picture the settings ask for and writes it (atomically).
  ///
  /// - Returns: the image written.
  /// - Throws: `PlexusError` for an unreadable model or input, a kind the model cannot draw, or
  ///   counts out of range.
  @discardableResult
  public static func run(
    _ settings: PictureSettings, console: any Console, registry: LayerRegistry = .standard()
  ) throws -> PNGImage {
    let saved = try SavedModel(path: settings.modelPath, registry: registry)
    let kind = try kind(of: saved.model, settings)
    let image = try draw(saved, kind, settings)
    try image.write(to: URL(fileURLWithPath: settings.outputPath))
    console.line(
      "wrote a \(image.width) x \(image.height) picture of \(kind.rawValue) to \(settings.outputPath)"
    )
    return image
  }

  private static func kind(of model: any ModelProtocol, _ settings: PictureSettings) throws
    -> PictureKind
  {
    if let kind = settings.kind { return kind }
    switch model {
    case is RBM, is DBN: return .filters
    case let vae as VAE: return vae.latentDimension == 2 ? .latent : .samples
    case is Autoencoder: return .reconstructions
    default:
      throw PlexusError.invalidArgument(
        "\(settings.modelPath): pictures are drawn for RBMs, DBNs, autoencoders and VAEs; this model is a \(type(of: model))"
      )
    }
  }

  private static func draw(_ saved: SavedModel, _ kind: PictureKind, _ settings: PictureSettings)
    throws -> PNGImage
  {
    guard (1...1024).contains(settings.count), (1...32).contains(settings.scale) else {
      throw PlexusError.invalidArgument(
        "a picture's count must be in 1...1024 and its scale in 1...32, got \(settings.count) and \(settings.scale)"
      )
    }
    let model = saved.model
    let (tileHeight, tileWidth) = try tileShape(of: model, settings)
    func grid(_ values: [Float], count: Int, columns: Int? = nil, normalize: Bool = false) throws
      -> PNGImage
    {
      try PNGImage.grid(
        values: values, count: count, tileHeight: tileHeight, tileWidth: tileWidth,
        columns: columns, scale: settings.scale, padding: 1, normalizeEachTile: normalize)
    }
    func unsupported() -> PlexusError {
      PlexusError.invalidArgument(
        "\(settings.modelPath): a \(type(of: model)) has no \(kind.rawValue) picture")
    }
    switch kind {
    case .filters:
      // A DBN's filters are those of its bottom RBM, which sees the data.
      guard let rbm = model as? RBM ?? (model as? DBN)?.rbms.first else { throw unsupported() }
      let filters = try rbm.layer.weights.value.transposed()  // [hidden, visible]
      let count = min(settings.count, filters.batchCount)
      return try grid(
        Array(filters.scalars.prefix(count * filters.sampleSize)), count: count, normalize: true)
    case .samples:
      let samples: Tensor
      if let rbm = model as? RBM {
        samples = try rbm.sample(
          chains: settings.count, gibbsSteps: settings.gibbsSteps, seed: settings.seed)
      } else if let dbn = model as? DBN {
        samples = try dbn.generate(
          samples: settings.count, gibbsSteps: settings.gibbsSteps, seed: settings.seed)
      } else if let vae = model as? VAE {
        samples = try vae.sample(count: settings.count, seed: settings.seed)
      } else {
        throw unsupported()
      }
      return try grid(samples.scalars, count: settings.count)
    case .reconstructions:
      guard let inputPath = settings.inputPath else {
        throw PlexusError.invalidArgument(
          "a reconstructions picture needs the inputs to reconstruct (--input x.npy)")
      }
      let all = try saved.batch(
        NumPy.read(contentsOf: URL(fileURLWithPath: inputPath)).tensor(), source: inputPath)
      let count = min(settings.count, all.batchCount)
      guard count > 0 else { throw PlexusError.invalidArgument("\(inputPath) holds no samples") }
      let inputs = try all.slice(axis: 0, range: 0..<count)
      let reconstructions: Tensor
      if let autoencoder = model as? Autoencoder {
        reconstructions = try autoencoder.reconstruct(inputs)
      } else if let vae = model as? VAE {
        reconstructions = try vae.reconstruct(inputs)
      } else {
        throw unsupported()
      }
      guard reconstructions.shape == inputs.shape else {
        throw PlexusError.invalidShape(
          "the reconstructions have shape \(reconstructions.shape), the inputs \(inputs.shape)")
      }
      // Each input followed by its reconstruction, pairs filling the rows.
      let size = inputs.sampleSize
      let original = inputs.scalars
      let rebuilt = reconstructions.scalars
      var values: [Float] = []
      values.reserveCapacity(2 * count * size)
      for sample in 0..<count {
        values += original[sample * size..<(sample + 1) * size]
        values += rebuilt[sample * size..<(sample + 1) * size]
      }
      var pairsPerRow = 1
      while pairsPerRow * pairsPerRow < count { pairsPerRow += 1 }
      return try grid(values, count: 2 * count, columns: 2 * pairsPerRow)
    case .latent:
      guard let vae = model as? VAE else { throw unsupported() }
      guard vae.latentDimension == 2 else {
        throw PlexusError.invalidArgument(
          "a latent grid needs a VAE with a 2-D code; this one has \(vae.latentDimension) dimensions"
        )
      }
      let side = settings.count
      guard (2...32).contains(side) else {
        throw PlexusError.invalidArgument(
          "a latent grid's points per side (--count) must be in 2...32, got \(side)")
      }
      var points: [Float] = []
      for row in 0..<side {
        for column in 0..<side {
          points.append(-2 + 4 * Float(column) / Float(side - 1))
          points.append(2 - 4 * Float(row) / Float(side - 1))
        }
      }
      let decoded = try vae.decode(Tensor(shape: [side * side, 2], scalars: points))
      return try grid(decoded.scalars, count: side * side, columns: side)
    }
  }

  /// The tile of one sample: `[h, w]` or `[h, w, 1]` inputs as they are, a flat input of a
  /// square size as a square, any other flat input as one row.
  private static func tileShape(of model: any ModelProtocol, _ settings: PictureSettings) throws
    -> (Int, Int)
  {
    let shape = model.inputSpecs.count == 1 ? model.inputSpecs[0].shape : []
    let sizes = shape.compactMap { $0 }
    guard !shape.isEmpty, sizes.count == shape.count else {
      throw PlexusError.invalidArgument(
        "\(settings.modelPath): a picture needs a model with one input of a fixed shape")
    }
    switch sizes.count {
    case 1:
      var side = 1
      while side * side < sizes[0] { side += 1 }
      return side * side == sizes[0] ? (side, side) : (1, sizes[0])
    case 2: return (sizes[0], sizes[1])
    case 3 where sizes[2] == 1: return (sizes[0], sizes[1])
    default:
      throw PlexusError.invalidArgument(
        "\(settings.modelPath): pictures are drawn for flat or one-channel image inputs, not \(sizes)"
      )
    }
  }
}
