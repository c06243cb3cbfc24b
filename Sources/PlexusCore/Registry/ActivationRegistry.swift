import Foundation
import Synchronization

/// Maps activation names to the kernels that implement them, as ``LayerRegistry`` does for
/// layers.
///
/// The first-party activations (`relu`, `leaky_relu`, ...) are always present under their
/// bare Keras names; third-party names are namespaced (`com.example.square`). Configs and
/// model files store an activation by name, so decoding one asks a registry for it:
///
/// - ``shared`` is the process-wide registry that decoding uses by default. A module that
///   provides activations registers them there once, before decoding configs or loading model
///   files that name them:
///
///   ```swift
///   try ActivationRegistry.shared.register(Square.self, module: "MyActivations")
///   ```
///
/// - A decoder whose `userInfo[ActivationRegistry.userInfoKey]` holds another registry
///   resolves names there instead (for an isolated set of activations).
///
/// A registry is safe to use from any thread: registration and lookup may run concurrently.
public final class ActivationRegistry: Sendable {
  /// The process-wide registry: the first-party activations plus whatever modules register.
  /// `ActivationFunction` decoding and `ActivationFunction(name:alpha:)` use it.
  public static let shared = ActivationRegistry()

  /// The decoder `userInfo` key under which a registry other than ``shared`` can be passed to
  /// `ActivationFunction`'s decoding.
  public static let userInfoKey = CodingUserInfoKey(rawValue: "plexus.activationRegistry")!

  /// The module that provides the first-party activations.
  public static let firstPartyModule = "PlexusCore"

  /// Other names accepted for first-party activations, mapped to their registered name
  /// (`identity` and `none` for `linear`, `swish` for `silu`, ...).
  public static let aliases: [String: String] = [
    "identity": "linear", "none": "linear", "leakyrelu": "leaky_relu", "heaviside": "step",
    "swish": "silu",
  ]

  /// The first-party kernels, registered in every registry.
  static let firstPartyKernels: [any ActivationKernel.Type] = [
    LinearActivation.self, SigmoidActivation.self, TanhActivation.self, ReLUActivation.self,
    LeakyReLUActivation.self, ELUActivation.self, GELUActivation.self, SoftplusActivation.self,
    SoftmaxActivation.self, StepActivation.self, HardSigmoidActivation.self,
    SiLUActivation.self, MishActivation.self, SELUActivation.self, SoftsignActivation.self,
    ExponentialActivation.self, LogSoftmaxActivation.self, ReLU6Activation.self,
    ThresholdedReLUActivation.self,
  ]

  /// A function that creates an activation from a complete, validated parameter set.
  private typealias Factory = @Sendable ([String: Float]) throws -> ActivationFunction

  private struct Entry: Sendable {
    let module: String
    let typeIdentifier: ObjectIdentifier
    let defaultParameters: [String: Float]
    let factory: Factory
  }

  private let entries = Mutex<[String: Entry]>([:])

  /// Creates a registry holding the first-party activations.
  public init() {
    for kernelType in Self.firstPartyKernels { registerBuiltIn(kernelType) }
  }

  /// Registers a kernel type under its `name`.
  ///
  /// Registering the same type again is harmless.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when the name is malformed (it must contain a
  ///   namespace dot, as `com.example.square`), is already taken by another type, or when the
  ///   type's default parameters are malformed (empty or reserved keys, non-finite values, or
  ///   defaults that `init(parameters:)` rejects).
  public func register<K: ActivationKernel>(_ kernelType: K.Type, module: String) throws {
    let name = K.name
    let parts = name.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty }) else {
      throw PlexusError.invalidConfiguration(
        "activation name '\(name)' must be namespaced, such as 'com.example.\(name)'")
    }
    try add(kernelType, module: module)
  }

  /// Registers a first-party kernel; first-party names are unique by construction, so this
  /// cannot fail.
  private func registerBuiltIn<K: ActivationKernel>(_ kernelType: K.Type) {
    do { try add(kernelType, module: Self.firstPartyModule) } catch {
      preconditionFailure("built-in activation registration failed: \(error)")
    }
  }

  private func add<K: ActivationKernel>(_ kernelType: K.Type, module: String) throws {
    let name = K.name
    let defaults = K.defaultParameters
    for (key, value) in defaults {
      guard !key.isEmpty, key != "name" else {
        throw PlexusError.invalidConfiguration(
          "activation '\(name)' declares a parameter named '\(key)'; parameter names must be "
            + "non-empty and not 'name'")
      }
      guard value.isFinite else {
        throw PlexusError.invalidConfiguration(
          "activation '\(name)' parameter '\(key)' has a non-finite default \(value)")
      }
    }
    let probe = try K(parameters: defaults)
    guard Set(probe.parameters.keys) == Set(defaults.keys) else {
      let reported = probe.parameters.keys.sorted().joined(separator: ", ")
      let declared = defaults.keys.sorted().joined(separator: ", ")
      throw PlexusError.invalidConfiguration(
        "activation '\(name)' reports parameters [\(reported)] but declares [\(declared)]")
    }
    let entry = Entry(
      module: module, typeIdentifier: ObjectIdentifier(kernelType), defaultParameters: defaults
    ) { parameters in
      ActivationFunction(try K(parameters: parameters))
    }
    try entries.withLock { entries in
      if let existing = entries[name], existing.typeIdentifier != entry.typeIdentifier {
        throw PlexusError.invalidConfiguration(
          "activation name '\(name)' is already registered by module \(existing.module)")
      }
      entries[name] = entry
    }
  }

  /// The registered name an accepted name stands for (resolving aliases).
  private func registeredName(_ name: String) -> String { Self.aliases[name] ?? name }

  /// Whether a name (or an alias of a first-party name) is registered.
  public func contains(_ name: String) -> Bool {
    let name = registeredName(name)
    return entries.withLock { $0[name] != nil }
  }

  /// The registered names, sorted (aliases not included).
  public var names: [String] {
    entries.withLock { $0.keys.sorted() }
  }

  /// The module that registered a name.
  public func module(of name: String) -> String? {
    let name = registeredName(name)
    return entries.withLock { $0[name]?.module }
  }

  /// The parameters a registered activation takes, with their defaults.
  public func defaultParameters(of name: String) -> [String: Float]? {
    let name = registeredName(name)
    return entries.withLock { $0[name]?.defaultParameters }
  }

  /// Creates an activation by name; omitted parameters take their defaults.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for an unknown name (listing the registered
  ///   names), a parameter the activation does not take, a non-finite value, or a value the
  ///   activation rejects.
  public func makeFunction(name: String, parameters: [String: Float] = [:]) throws
    -> ActivationFunction
  {
    let registered = registeredName(name)
    guard let entry = entries.withLock({ $0[registered] }) else {
      var message =
        "unknown activation '\(name)'; expected one of \(names.joined(separator: ", "))"
      if name.contains(".") {
        message +=
          " (a third-party activation must be registered before decoding, with "
          + "ActivationRegistry.shared.register(YourKernel.self, module: \"YourModule\"))"
      }
      throw PlexusError.invalidConfiguration(message)
    }
    var complete = entry.defaultParameters
    for (key, value) in parameters.sorted(by: { $0.key < $1.key }) {
      guard entry.defaultParameters[key] != nil else {
        let accepted = entry.defaultParameters.keys.sorted()
        let suggestion =
          NameSuggestion.nearest(to: key, in: accepted).map { " (did you mean '\($0)'?)" } ?? ""
        throw PlexusError.invalidConfiguration(
          "activation '\(registered)' has no parameter '\(key)'\(suggestion); "
            + (accepted.isEmpty
              ? "it takes no parameters" : "its parameters are \(accepted.joined(separator: ", "))")
        )
      }
      guard value.isFinite else {
        throw PlexusError.invalidConfiguration(
          "activation '\(registered)' parameter '\(key)' must be finite, found \(value)")
      }
      complete[key] = value
    }
    return try entry.factory(complete)
  }
}
