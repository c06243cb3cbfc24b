import Foundation
import Synchronization

/// The bookkeeping shared by the registries of optimizers, losses and metrics: namespaced type
/// names, the built-in short aliases, the module that registered each name, duplicate detection
/// and lookup errors that list what is registered. Each public registry wraps one with its own
/// factory type.
///
/// The rules are those of `LayerRegistry`:
/// - A registered name is namespaced (`plexus.adam`, `com.example.lion`): at least two
///   non-empty parts separated by dots.
/// - Registering the same Swift type under its name again is harmless; another type under a
///   taken name is an error naming the module that holds it.
/// - Looking up an unknown name is an error that lists the registered names (with their
///   aliases) and suggests the nearest one; for a first-party name from a module that is not
///   registered, it names that module.
///
/// Aliases are un-namespaced first-party short names (`adam`, `mse`). An alias may fix some
/// config values: `softmax_cross_entropy` is `plexus.categorical_crossentropy` with
/// `fromLogits` true.
final class ComponentRegistry<Factory: Sendable>: Sendable {
  /// A registered type.
  struct Entry: Sendable {
    let module: String
    let typeIdentifier: ObjectIdentifier
    let factory: Factory
  }

  /// A first-party short name for a registered name.
  struct Alias: Sendable {
    let canonicalName: String
    /// Config values the alias implies; a config given with the alias may repeat them but not
    /// contradict them.
    let fixedConfig: [String: JSONValue]
  }

  /// The result of a lookup.
  struct Resolution {
    /// The registered (canonical) name.
    let name: String
    let entry: Entry
    let fixedConfig: [String: JSONValue]
  }

  private struct State: Sendable {
    var entries: [String: Entry] = [:]
    var aliases: [String: Alias] = [:]
  }

  /// The kind in messages: `optimizer`, `loss`, `metric`.
  let kind: String
  /// First-party names (canonical and aliases) and the modules that provide them.
  let firstPartyModules: [String: String]
  /// How to register a missing first-party module, appended to the message.
  let registrationHint: String
  private let state = Mutex(State())

  init(kind: String, firstPartyModules: [String: String], registrationHint: String) {
    self.kind = kind
    self.firstPartyModules = firstPartyModules
    self.registrationHint = registrationHint
  }

  /// Registers `factory` under `name` for the Swift type `typeIdentifier`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when the name is not namespaced or is taken
  ///   by another type.
  func register(
    name: String, module: String, typeIdentifier: ObjectIdentifier, factory: Factory
  ) throws {
    guard Self.isNamespaced(name) else {
      throw PlexusError.invalidConfiguration(
        "\(kind) type name '\(name)' must be namespaced, such as 'com.example.\(name)'")
    }
    let entry = Entry(module: module, typeIdentifier: typeIdentifier, factory: factory)
    try state.withLock { state in
      if let existing = state.entries[name], existing.typeIdentifier != typeIdentifier {
        throw PlexusError.invalidConfiguration(
          "\(kind) type name '\(name)' is already registered by module \(existing.module)")
      }
      state.entries[name] = entry
    }
  }

  /// Adds a first-party short name for a registered name.
  func addAlias(
    _ alias: String, for canonicalName: String, fixing fixedConfig: [String: JSONValue] = [:]
  ) {
    state.withLock {
      $0.aliases[alias] = Alias(canonicalName: canonicalName, fixedConfig: fixedConfig)
    }
  }

  /// Whether `name` (a registered name or an alias of one) is registered.
  func contains(_ name: String) -> Bool {
    state.withLock { state in
      state.entries[name] != nil
        || state.aliases[name].map { state.entries[$0.canonicalName] != nil } == true
    }
  }

  /// The registered names, sorted (aliases not included).
  var typeNames: [String] { state.withLock { $0.entries.keys.sorted() } }

  /// The registered name that `name` stands for: itself, or the name of an alias.
  func canonicalName(of name: String) -> String? {
    state.withLock { state in
      if state.entries[name] != nil { return name }
      guard let alias = state.aliases[name], state.entries[alias.canonicalName] != nil else {
        return nil
      }
      return alias.canonicalName
    }
  }

  /// The module that registered `name` (or the name an alias stands for).
  func module(of name: String) -> String? {
    state.withLock { state in
      let canonical = state.aliases[name]?.canonicalName ?? name
      return state.entries[canonical]?.module
    }
  }

  /// Looks up a name or an alias.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a name that is not registered: it names
  ///   the module that provides a first-party name, else lists the registered names and
  ///   suggests the nearest.
  func resolve(_ name: String) throws -> Resolution {
    // A copy of the tables (copy-on-write: no dictionary is copied) to work on unlocked.
    let snapshot = state.withLock { $0 }
    let alias = snapshot.aliases[name]
    let canonical = alias?.canonicalName ?? name
    if let entry = snapshot.entries[canonical] {
      return Resolution(name: canonical, entry: entry, fixedConfig: alias?.fixedConfig ?? [:])
    }
    if let module = firstPartyModules[name] {
      throw PlexusError.invalidConfiguration(
        "\(kind) '\(name)' is not registered: it is provided by module \(module); \(registrationHint)"
      )
    }
    var aliasesByName: [String: [String]] = [:]
    for (alias, target) in snapshot.aliases where snapshot.entries[target.canonicalName] != nil {
      aliasesByName[target.canonicalName, default: []].append(alias)
    }
    let listing = snapshot.entries.keys.sorted().map { name in
      guard let short = aliasesByName[name]?.sorted() else { return name }
      return "\(name) (\(short.joined(separator: ", ")))"
    }
    let candidates = Array(snapshot.entries.keys) + aliasesByName.values.flatMap { $0 }
    let suggestion = NameSuggestion.nearest(to: name, in: candidates).map {
      " (did you mean '\($0)'?)"
    }
    let registered = listing.isEmpty ? "none" : listing.joined(separator: ", ")
    throw PlexusError.invalidConfiguration(
      "unknown \(kind) '\(name)'\(suggestion ?? ""); registered: \(registered)")
  }

  /// Merges the values an alias fixes into a config object.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` when the config contradicts the alias.
  func applying(_ resolution: Resolution, requestedName: String, to config: JSONValue) throws
    -> JSONValue
  {
    guard !resolution.fixedConfig.isEmpty else { return config }
    guard case .object(var members) = config else { return config }
    for key in resolution.fixedConfig.keys.sorted() {
      guard let fixed = resolution.fixedConfig[key] else { continue }
      if let given = members[key], given != fixed {
        throw PlexusError.invalidConfiguration(
          "\(kind) '\(requestedName)' is '\(resolution.name)' with \(key) \(Self.render(fixed)); "
            + "it cannot take \(key) \(Self.render(given)) (name '\(resolution.name)' instead)")
      }
      members[key] = fixed
    }
    return .object(members)
  }

  /// Whether a name has at least two non-empty parts separated by dots.
  static func isNamespaced(_ name: String) -> Bool {
    let parts = name.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count >= 2 && parts.allSatisfy { !$0.isEmpty }
  }

  private static func render(_ value: JSONValue) -> String {
    switch value {
    case .bool(let flag): return String(flag)
    case .number(let number): return String(number)
    case .string(let text): return "'\(text)'"
    case .null: return "null"
    case .array, .object: return "\(value)"
    }
  }
}

/// How a loss, an optimizer or a metric is written in JSON: a bare name (`"adam"`) or a flat
/// object whose `type` names it and whose other members are its config
/// (`{"type": "adam", "learningRate": 0.001}`).
enum ComponentJSON {
  /// The type name and the config object of a component.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for anything else, with an `example`.
  static func split(_ json: JSONValue, kind: String, example: String) throws -> (
    type: String, config: JSONValue
  ) {
    switch json {
    case .string(let name):
      return (name, .object([:]))
    case .object(var members):
      guard case .string(let type)? = members["type"] else {
        throw PlexusError.invalidConfiguration(
          "the \(kind) has no \"type\" naming it, such as \(example)")
      }
      members["type"] = nil
      return (type, .object(members))
    default:
      throw PlexusError.invalidConfiguration(
        "the \(kind) must be a name or an object such as \(example)")
    }
  }

  /// Encodes a component as its bare name when its config is empty, else as a flat object.
  static func encode(
    typeName: String, config: some Encodable, to encoder: any Encoder
  ) throws {
    let json = try JSONValue(encoding: config)
    if case .object(let members) = json, !members.isEmpty {
      var object = members
      object["type"] = .string(typeName)
      try JSONValue.object(object).encode(to: encoder)
    } else {
      var container = encoder.singleValueContainer()
      try container.encode(typeName)
    }
  }
}

extension ComponentJSON {
  /// The JSON of `value` with sorted keys.
  static func text(of value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
  }
}

/// Suggestions of a known name for a misspelled one.
public enum NameSuggestion {
  /// The candidate nearest to `name` by edit distance (case-insensitive), when it is close
  /// enough to be a likely typo: at most one edit for names up to four characters, two up to
  /// eight, three beyond.
  public static func nearest(to name: String, in candidates: [String]) -> String? {
    let target = Array(name.lowercased())
    var best: (candidate: String, distance: Int)?
    for candidate in candidates.sorted() {
      let distance = editDistance(target, Array(candidate.lowercased()))
      let allowed = candidate.count <= 4 ? 1 : (candidate.count <= 8 ? 2 : 3)
      guard distance <= allowed, distance < Swift.max(target.count, 1) else { continue }
      if best == nil || distance < best!.distance { best = (candidate, distance) }
    }
    return best?.candidate
  }

  /// The Levenshtein distance with adjacent transpositions counted as one edit (optimal
  /// string alignment): `adma` is one edit from `adam`.
  static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previousPrevious = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      current[0] = i
      for j in 1...b.count {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        var value = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
          value = Swift.min(value, previousPrevious[j - 2] + 1)
        }
        current[j] = value
      }
      (previousPrevious, previous, current) = (previous, current, previousPrevious)
    }
    return previous[b.count]
  }
}
