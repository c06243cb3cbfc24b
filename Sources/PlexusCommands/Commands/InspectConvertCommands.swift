import ArgumentParser
import Foundation
import Plexus
import PlexusInterop
import PlexusONNX

/// `plexus inspect FILE`: what a .plexus file holds.
public struct InspectCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract: "Show a model or weight file's architecture, tensors, metadata and checksum status.",
    discussion: """
      For a .plexus file, prints the layers, every tensor with its dtype, shape, codec and \
      stored size, the metadata, the optimizer state and the chunks, after verifying every \
      checksum; exits with status 1 when a checksum does not match. For a .safetensors, .npz, \
      .pt or .pth file, lists the tensors (name, dtype, shape, bytes, storage) and the \
      metadata or a PyTorch file's plain values. With --json the report is JSON with sorted \
      keys, for machines.
      """
  )

  /// The model file.
  @Argument(
    help: ArgumentHelp(
      "The model or weight file (.plexus, .safetensors, .npz, .pt, .pth, .keras, .h5, .onnx).",
      valueName: "FILE"))
  public var file: String

  /// Prints JSON.
  @Flag(help: "Print the report as JSON.")
  public var json = false

  /// Skips checksum verification.
  @Flag(help: "Do not verify tensor checksums (faster on large files).")
  public var noVerify = false

  public init() {}

  public func run() throws {
    if ONNXConversion.isONNXFile(file) {
      try ONNXConversion.inspect(path: file, json: json, console: StandardOutput())
      return
    }
    if KerasConversion.isKerasFile(file) {
      try KerasConversion.inspect(path: file, json: json, console: StandardOutput())
      return
    }
    if let format = try? ConvertFormat(of: file), format != .plexus {
      try WeightConversion.inspect(path: file, json: json, console: StandardOutput())
      return
    }
    let report = try Inspect.run(
      path: file, json: json, verify: !noVerify, console: StandardOutput())
    if !report.problems.isEmpty { throw ExitCode(1) }
  }
}

/// The work of `plexus inspect`.
public enum Inspect {
  /// Prints the inspection of the file at `path` as text or JSON and returns it.
  ///
  /// - Throws: `PlexusFormatError` when the file cannot be opened or its structure is invalid.
  @discardableResult
  public static func run(path: String, json: Bool, verify: Bool = true, console: any Console)
    throws -> PlexusInspection
  {
    let report = try PlexusInspection.inspect(URL(fileURLWithPath: path), verify: verify)
    console.write(json ? try report.renderJSON() : report.renderText())
    return report
  }
}

/// `plexus convert IN OUT`: rewrites a .plexus file with another codec or storage dtype.
public struct ConvertCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "convert",
    abstract:
      "Convert a model between .plexus codecs and dtypes, and to and from safetensors, NumPy .npz, PyTorch state dicts and Keras.",
    discussion: """
      .plexus to .plexus keeps the architecture, metadata and optimizer state; --dtype applies \
      to the model's weights (optimizer state stays float32); narrowing to f16, bf16 or i8 \
      rounds. OUT may be IN: the file is replaced atomically. .plexus to .safetensors or .npz \
      writes each parameter under its Plexus path (--dtype f32, f16 or bf16 for safetensors), \
      or with --layout pytorch the state dict of the equivalent torch.nn modules (names from \
      the layers, or the modules a --mapping file names), or with --layout keras each under \
      its Keras 3 variable path (layers/dense/vars/0); safetensors files get the \
      architecture in their metadata. .safetensors, .npz, .pt and .pth to .plexus take the \
      architecture from that metadata or from --architecture (a .plexus file or a training \
      spec) and match tensors by name, by order and shape, or as a --mapping file says; the \
      pairing is printed as a table. PyTorch files are read in the pytorch layout. Keras: .keras and legacy .h5 models convert \
      to .plexus with their architecture; a .weights.h5 file needs --architecture; .plexus \
      converts to .keras (which keras.saving.load_model reads) or to .weights.h5. ONNX: .onnx \
      converts to .plexus (images read channels last) and .plexus to .onnx (opset 17, dynamic \
      batch; --input-layout nchw, the default, or nhwc for image inputs and outputs).
      """
  )

  /// The input file.
  @Argument(
    help: ArgumentHelp(
      "The file to read (.plexus, .safetensors, .npz, .pt, .pth).", valueName: "IN"))
  public var input: String

  /// The output file.
  @Argument(
    help: ArgumentHelp("The file to write (.plexus, .safetensors, .npz, .pt).", valueName: "OUT"))
  public var output: String

  /// The output format, when the extension does not say.
  @Option(
    help: ArgumentHelp(
      "The output format: plexus, safetensors, npz or pytorch (default: from OUT's extension).",
      valueName: "format"))
  public var to: String?

  /// The architecture for a weights-only input.
  @Option(
    help: ArgumentHelp(
      "For a weight file without Plexus metadata: the architecture, as a .plexus file or a training spec (.json).",
      valueName: "FILE"))
  public var architecture: String?

  /// The tensor names and layouts of the weight file.
  @Option(
    help: ArgumentHelp(
      "The weight file's names and layouts: plexus, pytorch, keras or sklearn (default: pytorch for .pt/.pth, sklearn for a BernoulliRBM's components_ and intercepts, else the layout a safetensors file's metadata names, else plexus).",
      valueName: "layout"))
  public var layout: String?

  /// A mapping file.
  @Option(
    help: ArgumentHelp(
      "A JSON object of weight-file tensor names to Plexus paths (null leaves a tensor out).",
      valueName: "map.json"))
  public var mapping: String?

  /// The codec.
  @Option(
    help: ArgumentHelp(
      "The tensor codec: raw, deflate or shuffle-deflate (default: keep each tensor's).",
      valueName: "codec"))
  public var codec: String?

  /// The storage dtype.
  @Option(
    help: ArgumentHelp(
      "The weights' storage dtype: f32, f16, bf16 or i8 (default: keep each tensor's).",
      valueName: "dtype"))
  public var dtype: String?

  /// The zlib level.
  @Option(help: "The zlib level 0-9 for the deflate codecs (default: chosen per byte plane).")
  public var level: Int?

  /// The layout of image inputs and outputs of an ONNX file.
  @Option(
    name: .customLong("input-layout"),
    help: ArgumentHelp(
      "For .onnx files: images channels first (nchw, the default for export) or last (nhwc).",
      valueName: "layout"))
  public var inputLayout: String?

  public init() {}

  public func validate() throws {
    _ = try settings
  }

  /// The settings these arguments give.
  public var settings: ConvertSettings {
    get throws {
      var parsed = ConvertSettings(
        inputPath: input, outputPath: output, compressionLevel: level,
        architecturePath: architecture, mappingPath: mapping)
      if let layout {
        guard let value = WeightLayout(rawValue: layout) else {
          throw ValidationError(
            "--layout must be plexus, pytorch, keras or sklearn, got '\(layout)'")
        }
        parsed.layout = value
      }
      if let to {
        guard let value = ConvertFormat(rawValue: to) else {
          throw ValidationError("--to must be plexus, safetensors, npz or pytorch, got '\(to)'")
        }
        parsed.outputFormat = value.rawValue
      }
      if let codec {
        guard let value = TensorCodec(rawValue: codec) else {
          throw ValidationError(
            "--codec must be one of \(TensorCodec.allCases.map(\.rawValue).joined(separator: ", ")), got '\(codec)'"
          )
        }
        parsed.codec = value
      }
      if let dtype {
        guard let value = TensorDType(rawValue: dtype) else {
          throw ValidationError(
            "--dtype must be one of \(TensorDType.allCases.map(\.rawValue).joined(separator: ", ")), got '\(dtype)'"
          )
        }
        parsed.dtype = value
      }
      if let level, !(0...9).contains(level) {
        throw ValidationError("--level must be in 0...9, got \(level)")
      }
      if let inputLayout {
        guard let value = ONNXInputLayout(rawValue: inputLayout) else {
          throw ValidationError("--input-layout must be nchw or nhwc, got '\(inputLayout)'")
        }
        guard ONNXConversion.isONNXFile(input) || ONNXConversion.isONNXFile(output) else {
          throw ValidationError("--input-layout applies to conversions to and from .onnx")
        }
        parsed.inputLayout = value
      }
      if level != nil, parsed.codec == .raw {
        throw ValidationError("--level applies to the deflate codecs, not to --codec raw")
      }
      return parsed
    }
  }

  public func run() throws {
    try Convert.run(try settings, console: StandardOutput())
  }
}

/// What `plexus convert` does.
public struct ConvertSettings: Equatable, Sendable {
  /// The file to read.
  public var inputPath: String
  /// The file to write.
  public var outputPath: String
  /// The new codec, or `nil` to keep each tensor's.
  public var codec: TensorCodec?
  /// The new storage dtype of the weights, or `nil` to keep each tensor's.
  public var dtype: TensorDType?
  /// The zlib level, or `nil` for the per-plane default.
  public var compressionLevel: Int?
  /// The architecture for a weights-only input (a `.plexus` file or a training spec).
  public var architecturePath: String?
  /// The names and layouts of the weight file read or written (`nil`: the default).
  public var layout: WeightLayout?
  /// A mapping file of weight-file tensor names to Plexus paths.
  public var mappingPath: String?
  /// The output format (`plexus`, `safetensors`, `npz`), or `nil` for the extension's.
  public var outputFormat: String?
  /// How an ONNX file's image inputs and outputs are laid out (`nil`: channels first for
  /// export, guessed for import).
  public var inputLayout: ONNXInputLayout?

  /// Creates settings.
  public init(
    inputPath: String, outputPath: String, codec: TensorCodec? = nil, dtype: TensorDType? = nil,
    compressionLevel: Int? = nil, architecturePath: String? = nil, layout: WeightLayout? = nil,
    mappingPath: String? = nil, outputFormat: String? = nil
  ) {
    self.inputPath = inputPath
    self.outputPath = outputPath
    self.codec = codec
    self.dtype = dtype
    self.compressionLevel = compressionLevel
    self.architecturePath = architecturePath
    self.layout = layout
    self.mappingPath = mappingPath
    self.outputFormat = outputFormat
  }
}

/// The work of `plexus convert`.
public enum Convert {
  /// Converts the file and prints the sizes before and after.
  ///
  /// - Throws: `PlexusFormatError` when the input is corrupt or the output cannot be written.
  public static func run(_ settings: ConvertSettings, console: any Console) throws {
    if ONNXConversion.isONNXFile(settings.inputPath)
      || ONNXConversion.isONNXFile(settings.outputPath)
    {
      try ONNXConversion.convert(settings, console: console)
      return
    }
    if KerasConversion.isKerasFile(settings.inputPath)
      || KerasConversion.isKerasFile(settings.outputPath)
    {
      try KerasConversion.convert(settings, console: console)
      return
    }
    let input = URL(fileURLWithPath: settings.inputPath)
    let output = URL(fileURLWithPath: settings.outputPath)
    let formats = (
      try ConvertFormat(of: settings.inputPath),
      try settings.outputFormat.flatMap(ConvertFormat.init(rawValue:))
        ?? ConvertFormat(of: settings.outputPath)
    )
    switch formats {
    case (.plexus, .plexus): break
    case (.plexus, let format):
      try WeightConversion.export(settings, format: format, console: console)
      return
    case (_, .plexus):
      try WeightConversion.import(settings, console: console)
      return
    default:
      throw PlexusError.invalidArgument(
        "both files are weight files; convert to .plexus first, or give a .plexus file")
    }
    if settings.architecturePath != nil || settings.layout != nil || settings.mappingPath != nil {
      throw PlexusError.invalidArgument(
        "--architecture, --layout and --mapping apply when one side is a weight file")
    }
    let before = try PlexusFile(contentsOf: input).fileSize
    try PlexusConverter.convert(
      from: input, to: output, codec: settings.codec, dtype: settings.dtype,
      compressionLevel: settings.compressionLevel)
    let after = try PlexusFile(contentsOf: output)
    let codecs = Set(after.tensors.map(\.codec.rawValue)).sorted().joined(separator: ", ")
    let dtypes = Set(after.tensors.map(\.dtype.rawValue)).sorted().joined(separator: ", ")
    console.line(
      "Wrote \(output.path): \(after.fileSize) bytes (was \(before)), codec \(codecs), dtype \(dtypes)"
    )
  }
}
