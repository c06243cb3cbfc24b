import Foundation

/// A value built by `RestrictedUnpickler`: Python's plain values, the few globals it allows and
/// the PyTorch objects they rebuild. Lists and dicts are references, as in Python, so a value
/// the pickle stores in its memo and changes later is one object.
indirect enum PickleValue {
  case none
  case bool(Bool)
  case int(Int)
  case float(Double)
  case string(String)
  case bytes(Data)
  case tuple([PickleValue])
  case list(PickleList)
  case dict(PickleDict)
  case global(PickleGlobal)
  case storage(TorchStorage)
  case tensor(TorchTensorReference)

  /// What the value is, for messages.
  var kind: String {
    switch self {
    case .none: "None"
    case .bool: "a bool"
    case .int: "an int"
    case .float: "a float"
    case .string: "a string"
    case .bytes: "bytes"
    case .tuple: "a tuple"
    case .list: "a list"
    case .dict(let dict): dict.isOrdered ? "an OrderedDict" : "a dict"
    case .global(let global): "the global \(global.name)"
    case .storage: "a storage"
    case .tensor: "a tensor"
    }
  }
}

/// A Python list under construction or built.
final class PickleList {
  var items: [PickleValue]
  init(_ items: [PickleValue] = []) { self.items = items }
}

/// A Python dict (or `collections.OrderedDict`), in insertion order.
final class PickleDict {
  private(set) var keys: [PickleKey] = []
  private(set) var values: [PickleKey: PickleValue] = [:]
  /// The original key values, by key.
  private(set) var keyValues: [PickleKey: PickleValue] = [:]
  let isOrdered: Bool

  init(ordered: Bool) { isOrdered = ordered }

  /// Sets `key` (kept at its first position when it is set again, as Python does).
  func set(_ key: PickleValue, _ value: PickleValue) throws {
    let hashable = try PickleKey(key)
    if values.updateValue(value, forKey: hashable) == nil {
      keys.append(hashable)
      keyValues[hashable] = key
    }
  }

  /// Empties the dict (breaking reference cycles through it).
  func removeAll() {
    keys = []
    values = [:]
    keyValues = [:]
  }

  /// The entries in order.
  var entries: [(key: PickleValue, value: PickleValue)] {
    keys.map { (keyValues[$0]!, values[$0]!) }
  }
}

/// A hashable form of a dict key: the key types Python state dicts use.
enum PickleKey: Hashable {
  case none
  case bool(Bool)
  case int(Int)
  case float(UInt64)
  case string(String)
  case bytes(Data)
  case tuple([PickleKey])

  /// The key form of `value`; a tuple key may hold at most 256 values in all.
  init(_ value: PickleValue) throws {
    var budget = 256
    try self.init(value, budget: &budget)
  }

  private init(_ value: PickleValue, budget: inout Int) throws {
    budget -= 1
    guard budget >= 0 else { throw InteropError("a dict key is too large") }
    switch value {
    case .none: self = .none
    case .bool(let value): self = .bool(value)
    case .int(let value): self = .int(value)
    case .float(let value): self = .float(value.bitPattern)
    case .string(let value): self = .string(value)
    case .bytes(let value): self = .bytes(value)
    case .tuple(let items):
      var keys: [PickleKey] = []
      for item in items { keys.append(try PickleKey(item, budget: &budget)) }
      self = .tuple(keys)
    default: throw InteropError("\(value.kind) cannot be a dict key")
    }
  }
}

/// The globals a state dict may name: what `torch.load(weights_only=True)` needs for tensors.
enum PickleGlobal: Equatable {
  case orderedDict
  case rebuildTensor
  case rebuildTensorV2
  case rebuildParameter
  case storageType(WeightDType)

  /// The storage classes by name and the element type each holds.
  static let storageTypes: [String: WeightDType] = [
    "FloatStorage": .f32, "DoubleStorage": .f64, "HalfStorage": .f16, "BFloat16Storage": .bf16,
    "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
    "ByteStorage": .u8, "BoolStorage": .bool,
  ]

  /// The allowed global `module.name`, or `nil`.
  init?(module: String, name: String) {
    switch (module, name) {
    case ("collections", "OrderedDict"): self = .orderedDict
    case ("torch._utils", "_rebuild_tensor"): self = .rebuildTensor
    case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
    case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
    case ("torch", _):
      guard let dtype = Self.storageTypes[name] else { return nil }
      self = .storageType(dtype)
    default: return nil
    }
  }

  /// The Python name.
  var name: String {
    switch self {
    case .orderedDict: "collections.OrderedDict"
    case .rebuildTensor: "torch._utils._rebuild_tensor"
    case .rebuildTensorV2: "torch._utils._rebuild_tensor_v2"
    case .rebuildParameter: "torch._utils._rebuild_parameter"
    case .storageType(let dtype):
      "torch." + (Self.storageTypes.first { $0.value == dtype }?.key ?? "Storage")
    }
  }

  /// Every allowed global, for messages.
  static let allowedNames =
    "collections.OrderedDict, torch._utils._rebuild_tensor, torch._utils._rebuild_tensor_v2, "
    + "torch._utils._rebuild_parameter and the torch.*Storage types"
}

/// A storage of a PyTorch archive: the member `data/<key>` holding `elementCount` elements.
struct TorchStorage: Equatable {
  var key: String
  var dtype: WeightDType
  var elementCount: Int
}

/// A tensor as `_rebuild_tensor_v2` describes it: a view of a storage.
struct TorchTensorReference: Equatable {
  var storage: TorchStorage
  var offset: Int
  var shape: [Int]
  var strides: [Int]
}

/// A pickle reader that runs no code: it builds only plain values (None, bools, ints, floats,
/// strings, bytes, tuples, lists, dicts), `collections.OrderedDict` and PyTorch tensors
/// (`torch._utils._rebuild_tensor_v2` of a storage named by a persistent id), the rule of
/// `torch.load(weights_only=True)`. Any other global (`os.system`, `builtins.eval`, a model
/// class) is refused by name when the pickle names it, before anything could call it, and so
/// are the opcodes that build arbitrary objects (`INST`, `OBJ`, `NEWOBJ_EX`, extensions).
///
/// Protocols 0-5 are read (torch writes 2). Every length is checked against the bytes left,
/// memo indices against the memo, and the stack, the memo and the nesting are bounded.
struct RestrictedUnpickler {
  /// The most values the stack and the memo may hold.
  static let maximumStackSize = 1 << 20

  private let bytes: [UInt8]
  private let source: String
  private var position = 0
  private var stack: [PickleValue] = []
  private var marks: [Int] = []
  private var memo: [Int: PickleValue] = [:]
  private let persistentLoad: (PickleValue) throws -> PickleValue
  /// Every list and dict built, so that `releaseContainers` can break the reference cycles a
  /// pickle may make (a list that holds itself).
  private var lists: [PickleList] = []
  private var dicts: [PickleDict] = []

  /// Prepares to read `bytes`; `persistentLoad` turns a persistent id (`BINPERSID`) into a
  /// value and `source` names the pickle in errors.
  init(
    _ bytes: Data, source: String, persistentLoad: @escaping (PickleValue) throws -> PickleValue
  ) {
    self.bytes = [UInt8](bytes)
    self.source = source
    self.persistentLoad = persistentLoad
  }

  /// Empties every list and dict this unpickler built, freeing cyclic structures. Call it when
  /// the loaded value is no longer needed.
  mutating func releaseContainers() {
    for list in lists { list.items = [] }
    for dict in dicts { dict.removeAll() }
    lists = []
    dicts = []
    stack = []
    memo = [:]
  }

  private mutating func newList(_ items: [PickleValue] = []) -> PickleValue {
    let list = PickleList(items)
    lists.append(list)
    return .list(list)
  }

  private mutating func newDict(ordered: Bool) -> PickleDict {
    let dict = PickleDict(ordered: ordered)
    dicts.append(dict)
    return dict
  }

  private func error(_ message: String, at offset: Int) -> InteropError {
    InteropError("\(source): \(message) (pickle byte \(offset))")
  }

  /// Reads the pickle up to its `STOP` and returns the value it built.
  ///
  /// - Throws: `InteropError` naming the opcode or global and its byte offset.
  mutating func load() throws -> PickleValue {
    while true {
      let start = position
      let opcode = try byte()
      switch opcode {
      case 0x80:  // PROTO
        let version = try byte()
        guard version <= 5 else {
          throw error("pickle protocol \(version) is newer than 5", at: start)
        }
      case 0x95:  // FRAME
        _ = try take(8)
      case UInt8(ascii: "."):  // STOP
        guard stack.count == 1, marks.isEmpty else {
          throw error("STOP with \(stack.count) values on the stack instead of one", at: start)
        }
        return stack[0]
      case UInt8(ascii: "("): marks.append(stack.count)  // MARK
      case UInt8(ascii: "0"): _ = try pop(start)  // POP
      case UInt8(ascii: "1"): _ = try popMark(start)  // POP_MARK
      case UInt8(ascii: "2"): try push(try top(start), start)  // DUP
      case UInt8(ascii: "N"): try push(.none, start)
      case 0x88: try push(.bool(true), start)
      case 0x89: try push(.bool(false), start)
      case UInt8(ascii: "J"):  // BININT
        try push(.int(Int(Int32(bitPattern: UInt32(try littleEndian(4))))), start)
      case UInt8(ascii: "K"): try push(.int(Int(try byte())), start)  // BININT1
      case UInt8(ascii: "M"): try push(.int(Int(try littleEndian(2))), start)  // BININT2
      case 0x8A:  // LONG1
        try push(.int(try long(Int(try byte()), start)), start)
      case 0x8B:  // LONG4
        try push(.int(try long(try length(4, start), start)), start)
      case UInt8(ascii: "I"):  // INT (text)
        let text = try line(start)
        if text == "01" || text == "00" {
          try push(.bool(text == "01"), start)
        } else {
          guard let value = Int(text) else {
            throw error("INT '\(text)' is not an integer", at: start)
          }
          try push(.int(value), start)
        }
      case UInt8(ascii: "L"):  // LONG (text)
        let text = try line(start)
        guard let value = Int(text.hasSuffix("L") ? String(text.dropLast()) : text) else {
          throw error("LONG '\(text)' is not a 64-bit integer", at: start)
        }
        try push(.int(value), start)
      case UInt8(ascii: "F"):  // FLOAT (text)
        let text = try line(start)
        guard let value = Double(text) else {
          throw error("FLOAT '\(text)' is not a number", at: start)
        }
        try push(.float(value), start)
      case UInt8(ascii: "G"):  // BINFLOAT, big-endian
        let raw = try take(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        try push(.float(Double(bitPattern: raw)), start)
      case UInt8(ascii: "X"): try push(.string(try text(try length(4, start), start)), start)
      case 0x8C: try push(.string(try text(Int(try byte()), start)), start)
      case 0x8D: try push(.string(try text(try length(8, start), start)), start)
      case UInt8(ascii: "T"):  // BINSTRING (Python 2 str)
        try push(.string(try text(try length(4, start), start)), start)
      case UInt8(ascii: "U"):  // SHORT_BINSTRING
        try push(.string(try text(Int(try byte()), start)), start)
      case UInt8(ascii: "B"): try push(.bytes(Data(try take(try length(4, start)))), start)
      case UInt8(ascii: "C"): try push(.bytes(Data(try take(Int(try byte())))), start)
      case 0x8E: try push(.bytes(Data(try take(try length(8, start)))), start)
      case 0x96: try push(.bytes(Data(try take(try length(8, start)))), start)  // BYTEARRAY8
      case UInt8(ascii: ")"): try push(.tuple([]), start)
      case UInt8(ascii: "t"): try push(.tuple(try popMark(start)), start)
      case 0x85, 0x86, 0x87:  // TUPLE1-3
        let count = Int(opcode - 0x84)
        guard stack.count - (marks.last ?? 0) >= count else {
          throw error("TUPLE\(count) with fewer than \(count) values", at: start)
        }
        let items = Array(stack.suffix(count))
        stack.removeLast(count)
        try push(.tuple(items), start)
      case UInt8(ascii: "]"): try push(newList(), start)
      case UInt8(ascii: "l"): try push(newList(try popMark(start)), start)
      case UInt8(ascii: "a"):  // APPEND
        let item = try pop(start)
        guard case .list(let list) = try top(start) else {
          throw error("APPEND to \(try top(start).kind), not a list", at: start)
        }
        list.items.append(item)
      case UInt8(ascii: "e"):  // APPENDS
        let items = try popMark(start)
        guard case .list(let list) = try top(start) else {
          throw error("APPENDS to \(try top(start).kind), not a list", at: start)
        }
        list.items += items
      case UInt8(ascii: "}"): try push(.dict(newDict(ordered: false)), start)
      case UInt8(ascii: "d"):  // DICT
        let items = try popMark(start)
        let dict = newDict(ordered: false)
        try setItems(items, in: dict, start)
        try push(.dict(dict), start)
      case UInt8(ascii: "s"):  // SETITEM
        let value = try pop(start)
        let key = try pop(start)
        guard case .dict(let dict) = try top(start) else {
          throw error("SETITEM on \(try top(start).kind), not a dict", at: start)
        }
        try setItems([key, value], in: dict, start)
      case UInt8(ascii: "u"):  // SETITEMS
        let items = try popMark(start)
        guard case .dict(let dict) = try top(start) else {
          throw error("SETITEMS on \(try top(start).kind), not a dict", at: start)
        }
        try setItems(items, in: dict, start)
      case UInt8(ascii: "q"): try store(Int(try byte()), start)  // BINPUT
      case UInt8(ascii: "r"): try store(try length(4, start), start)  // LONG_BINPUT
      case 0x94: try store(memo.count, start)  // MEMOIZE
      case UInt8(ascii: "p"):  // PUT (text)
        guard let index = Int(try line(start)), index >= 0 else {
          throw error("PUT needs a non-negative index", at: start)
        }
        try store(index, start)
      case UInt8(ascii: "h"): try fetch(Int(try byte()), start)  // BINGET
      case UInt8(ascii: "j"): try fetch(try length(4, start), start)  // LONG_BINGET
      case UInt8(ascii: "g"):  // GET (text)
        guard let index = Int(try line(start)) else {
          throw error("GET needs an index", at: start)
        }
        try fetch(index, start)
      case UInt8(ascii: "c"):  // GLOBAL
        let module = try line(start)
        let name = try line(start)
        try push(.global(try global(module: module, name: name, start)), start)
      case 0x93:  // STACK_GLOBAL
        let nameValue = try pop(start)
        let moduleValue = try pop(start)
        guard case .string(let module) = moduleValue, case .string(let name) = nameValue else {
          throw error("STACK_GLOBAL needs two strings", at: start)
        }
        try push(.global(try global(module: module, name: name, start)), start)
      case UInt8(ascii: "R"):  // REDUCE
        let arguments = try pop(start)
        let callable = try pop(start)
        let result = try reduce(callable, arguments, start)
        if case .dict(let dict) = result { dicts.append(dict) }
        try push(result, start)
      case 0x81:  // NEWOBJ
        let arguments = try pop(start)
        let type = try pop(start)
        guard case .global(.orderedDict) = type, case .tuple(let items) = arguments,
          items.isEmpty
        else {
          throw error("NEWOBJ of \(type.kind) is not allowed", at: start)
        }
        try push(.dict(newDict(ordered: true)), start)
      case UInt8(ascii: "b"):  // BUILD
        let state = try pop(start)
        let object = try top(start)
        // An OrderedDict may carry attributes (a state dict's `_metadata`); they are not kept.
        guard case .dict(let dict) = object, dict.isOrdered, case .dict = state else {
          throw error("BUILD of \(object.kind) with \(state.kind) is not allowed", at: start)
        }
      case UInt8(ascii: "Q"):  // BINPERSID
        let id = try pop(start)
        do {
          try push(try persistentLoad(id), start)
        } catch let failure as InteropError {
          throw error(failure.description, at: start)
        }
      default:
        let names: [UInt8: String] = [
          UInt8(ascii: "i"): "INST", UInt8(ascii: "o"): "OBJ", 0x92: "NEWOBJ_EX",
          0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", UInt8(ascii: "P"): "PERSID",
          UInt8(ascii: "S"): "STRING", UInt8(ascii: "V"): "UNICODE", 0x8F: "EMPTY_SET",
          0x90: "ADDITEMS", 0x91: "FROZENSET", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
        ]
        throw error(
          "opcode \(names[opcode].map { "\($0) " } ?? "")0x\(String(opcode, radix: 16)) is not "
            + "allowed in a state dict", at: start)
      }
    }
  }

  // MARK: Reading

  private mutating func byte() throws -> UInt8 {
    guard position < bytes.count else {
      throw error("the pickle ends without STOP", at: position)
    }
    position += 1
    return bytes[position - 1]
  }

  private mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
    guard count >= 0, count <= bytes.count - position else {
      throw error(
        "a \(count)-byte field runs past the end of the \(bytes.count)-byte pickle", at: position)
    }
    position += count
    return bytes[(position - count)..<position]
  }

  private mutating func littleEndian(_ size: Int) throws -> UInt64 {
    try take(size).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
  }

  /// A length field, checked against the bytes left.
  private mutating func length(_ size: Int, _ start: Int) throws -> Int {
    let value = try littleEndian(size)
    guard value <= UInt64(bytes.count - position) else {
      throw error(
        "a length of \(value) runs past the end of the \(bytes.count)-byte pickle", at: start)
    }
    return Int(value)
  }

  /// A little-endian two's complement integer of `count` bytes that fits in 64 bits.
  private mutating func long(_ count: Int, _ start: Int) throws -> Int {
    let field = try take(count)
    guard count <= 8 else {
      // Wider encodings are accepted when they are sign extensions of a 64-bit value.
      let extra = field.dropFirst(8)
      let negative = field[field.startIndex + 7] & 0x80 != 0
      guard extra.allSatisfy({ $0 == (negative ? 0xFF : 0) }) else {
        throw error("an integer wider than 64 bits", at: start)
      }
      return try Self.integer(field.prefix(8))
    }
    return try Self.integer(field)
  }

  private static func integer(_ field: ArraySlice<UInt8>) throws -> Int {
    guard let last = field.last else { return 0 }
    var value = UInt64(0)
    for (index, byte) in field.enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
    if last & 0x80 != 0, field.count < 8 { value |= ~UInt64(0) << (8 * UInt64(field.count)) }
    return Int(Int64(bitPattern: value))
  }

  private mutating func text(_ count: Int, _ start: Int) throws -> String {
    let field = try take(count)
    guard let string = String(bytes: field, encoding: .utf8) else {
      throw error("a string that is not UTF-8", at: start)
    }
    return string
  }

  /// A newline-terminated ASCII argument (protocol 0 opcodes and GLOBAL).
  private mutating func line(_ start: Int) throws -> String {
    guard let end = bytes[position...].firstIndex(of: 0x0A), end - position <= 1024 else {
      throw error("an unterminated text argument", at: start)
    }
    let field = bytes[position..<end]
    position = end + 1
    guard field.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
      throw error("a text argument that is not printable ASCII", at: start)
    }
    return String(decoding: field, as: UTF8.self)
  }

  // MARK: The machine

  private mutating func push(_ value: PickleValue, _ start: Int) throws {
    guard stack.count < Self.maximumStackSize else {
      throw error("more than \(Self.maximumStackSize) values on the stack", at: start)
    }
    stack.append(value)
  }

  private mutating func pop(_ start: Int) throws -> PickleValue {
    guard let last = stack.last, stack.count > (marks.last ?? 0) else {
      throw error("an opcode pops from an empty stack", at: start)
    }
    stack.removeLast()
    return last
  }

  private func top(_ start: Int) throws -> PickleValue {
    guard let last = stack.last, stack.count > (marks.last ?? 0) else {
      throw error("an opcode reads an empty stack", at: start)
    }
    return last
  }

  private mutating func popMark(_ start: Int) throws -> [PickleValue] {
    guard let mark = marks.popLast() else {
      throw error("an opcode needs a MARK that is not there", at: start)
    }
    let items = Array(stack[mark...])
    stack.removeSubrange(mark...)
    return items
  }

  private mutating func store(_ index: Int, _ start: Int) throws {
    guard memo.count < Self.maximumStackSize || memo[index] != nil else {
      throw error("more than \(Self.maximumStackSize) memo entries", at: start)
    }
    memo[index] = try top(start)
  }

  private mutating func fetch(_ index: Int, _ start: Int) throws {
    guard let value = memo[index] else {
      throw error("memo entry \(index) is read before it is written", at: start)
    }
    try push(value, start)
  }

  private func setItems(_ items: [PickleValue], in dict: PickleDict, _ start: Int) throws {
    guard items.count % 2 == 0 else {
      throw error("a dict gets a key without a value", at: start)
    }
    do {
      for pair in stride(from: 0, to: items.count, by: 2) {
        try dict.set(items[pair], items[pair + 1])
      }
    } catch let failure as InteropError {
      throw error(failure.description, at: start)
    }
  }

  private func global(module: String, name: String, _ start: Int) throws -> PickleGlobal {
    guard let global = PickleGlobal(module: module, name: name) else {
      throw error(
        "the pickle names the global '\(module).\(name)', which a state dict may not: only "
          + "\(PickleGlobal.allowedNames) are allowed (the weights_only rule), and no code runs",
        at: start)
    }
    return global
  }

  /// Calls one of the allowed callables.
  private func reduce(_ callable: PickleValue, _ arguments: PickleValue, _ start: Int) throws
    -> PickleValue
  {
    guard case .global(let global) = callable else {
      throw error("REDUCE calls \(callable.kind), which is not callable here", at: start)
    }
    guard case .tuple(let args) = arguments else {
      throw error("REDUCE of \(global.name) with \(arguments.kind) instead of a tuple", at: start)
    }
    func fail(_ message: String) -> InteropError {
      error("\(global.name): \(message)", at: start)
    }
    switch global {
    case .orderedDict:
      let dict = PickleDict(ordered: true)
      guard args.count <= 1 else { throw fail("takes at most one argument") }
      if let items = args.first {
        let pairs: [PickleValue]
        switch items {
        case .list(let list): pairs = list.items
        case .tuple(let tuple): pairs = tuple
        default: throw fail("needs a list of pairs, not \(items.kind)")
        }
        for pair in pairs {
          guard case .tuple(let kv) = pair, kv.count == 2 else {
            throw fail("needs (key, value) pairs")
          }
          do { try dict.set(kv[0], kv[1]) } catch let failure as InteropError {
            throw fail(failure.description)
          }
        }
      }
      return .dict(dict)
    case .rebuildTensor, .rebuildTensorV2:
      let least = global == .rebuildTensor ? 4 : 6
      guard args.count >= least, args.count <= (global == .rebuildTensor ? 4 : 7) else {
        throw fail("takes \(least) arguments, got \(args.count)")
      }
      guard case .storage(let storage) = args[0] else {
        throw fail("the first argument is \(args[0].kind), not a storage")
      }
      guard case .int(let offset) = args[1], offset >= 0 else {
        throw fail("the storage offset is not a non-negative int")
      }
      let shape = try integers(args[2], "the size", fail)
      let strides = try integers(args[3], "the stride", fail)
      guard shape.count == strides.count else {
        throw fail("size \(shape) and stride \(strides) have different lengths")
      }
      if global == .rebuildTensorV2 {
        guard case .bool = args[4] else { throw fail("requires_grad is not a bool") }
        guard case .dict(let hooks) = args[5], hooks.entries.isEmpty else {
          throw fail("backward hooks are not allowed")
        }
      }
      return .tensor(
        TorchTensorReference(storage: storage, offset: offset, shape: shape, strides: strides))
    case .rebuildParameter:
      guard args.count == 3, case .tensor = args[0], case .bool = args[1],
        case .dict(let hooks) = args[2], hooks.entries.isEmpty
      else {
        throw fail("takes (tensor, requires_grad, no backward hooks)")
      }
      return args[0]
    case .storageType:
      throw fail("a storage type cannot be called")
    }
  }

  private func integers(
    _ value: PickleValue, _ what: String, _ fail: (String) -> InteropError
  ) throws -> [Int] {
    guard case .tuple(let items) = value, items.count <= 64 else {
      throw fail("\(what) is not a tuple of at most 64 ints")
    }
    return try items.map { item in
      guard case .int(let number) = item, number >= 0 else {
        throw fail("\(what) holds \(item.kind) that is not a non-negative int")
      }
      return number
    }
  }
}
