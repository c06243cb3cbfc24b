import Synchronization

/// The executable form of a model: its inputs, its layers (each once, also when shared), the
/// layer calls (nodes) in an order where every node comes after the nodes it reads from, and
/// its outputs. `Model` and `Sequential` both run through a graph.
///
/// A graph is immutable and `Sendable`. What one run keeps for the backward pass lives in a
/// `GraphTape`, so several tasks can run one graph at once, each with its own tape; `fit`
/// reuses one tape for every step.
public final class Graph: Sendable {
  /// A model input: its name and per-sample shape.
  public struct InputSpec: Sendable, Equatable {
    /// The input's name.
    public let name: String
    /// The per-sample shape (`nil` for a dimension that varies).
    public let shape: SymbolicShape
  }

  /// A model output: its name, per-sample shape and the value slot that holds it.
  public struct OutputSpec: Sendable, Equatable {
    /// The output's name (by default the name of the layer that produces it).
    public let name: String
    /// The per-sample shape.
    public let shape: SymbolicShape
    /// The value slot (inputs take the first slots, then each node's outputs in order).
    public let slot: Int
  }

  /// One call of a layer.
  public struct Node: Sendable {
    /// The layer called.
    public let layer: any Layer
    /// The layer's index in `layers`.
    public let layerIndex: Int
    /// How many earlier nodes call the same layer (0 for its first call).
    public let callIndex: Int
    /// The value slots the call reads.
    public let inputSlots: [Int]
    /// The value slots the call writes.
    public let outputSlots: [Int]
    /// The layer as a `UnaryLayer` when it is one and the call has one input and one output
    /// (the common case, run without building arrays).
    let unary: (any UnaryLayer)?
  }

  /// The model inputs, in order; input `i` is value slot `i`.
  public let inputs: [InputSpec]
  /// The layers, each once, in the order of their first call.
  public let layers: [any Layer]
  /// The layer calls, in an order that respects their dependencies.
  public let nodes: [Node]
  /// The model outputs, in order.
  public let outputs: [OutputSpec]
  /// The number of value slots.
  public let slotCount: Int
  /// The per-sample shape of each value slot.
  public let slotShapes: [SymbolicShape]
  /// For each slot, the node that writes it (`nil` for a model input).
  public let slotProducers: [Int?]
  /// For each slot, the index of the producing node's output (0 for inputs).
  public let slotOutputIndices: [Int]

  private let tapePool = Mutex<[PooledTape]>([])
  /// The layers in order when the graph is one chain of single-input, single-output calls from
  /// its input to its output (a `Sequential`): inference then runs without value slots.
  private let chain: [any UnaryLayer]?
  /// The nodes that run a nested model (their records hold a tape to clear after inference).
  private let nestedModelNodes: [Int]

  /// Creates a graph from model inputs and outputs defined with symbolic tensors.
  ///
  /// Unnamed layers are named `prefix_k` (unique in the graph); unnamed inputs `input_k`.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` naming the node for: no inputs or outputs,
  ///   an input given twice or not an `Input`, duplicate names, an output that depends on an
  ///   input not among `inputs`, an input not connected to any output, or output names that
  ///   are not unique.
  public init(
    inputs: [SymbolicTensor], outputs: [SymbolicTensor], outputNames: [String]? = nil
  ) throws {
    guard !inputs.isEmpty else {
      throw PlexusError.invalidConfiguration("a model needs at least one input")
    }
    guard !outputs.isEmpty else {
      throw PlexusError.invalidConfiguration("a model needs at least one output")
    }
    if let outputNames, outputNames.count != outputs.count {
      throw PlexusError.invalidConfiguration(
        "\(outputNames.count) output names were given for \(outputs.count) outputs")
    }
    // Inputs: slots 0..<k.
    var slotOfTensor: [ObjectIdentifier: Int] = [:]
    var inputSpecs: [InputSpec] = []
    var slotShapes: [SymbolicShape] = []
    var slotProducers: [Int?] = []
    var slotOutputIndices: [Int] = []
    var usedNames = Set<String>()
    for (index, tensor) in inputs.enumerated() {
      guard case .input(let givenName) = tensor.source else {
        throw PlexusError.invalidConfiguration(
          "model input \(index) is \(tensor), not an Input: a model's inputs must be Input tensors")
      }
      guard slotOfTensor[ObjectIdentifier(tensor)] == nil else {
        throw PlexusError.invalidConfiguration(
          "input '\(givenName)' is given twice among the model's inputs")
      }
      var name = givenName
      if name.isEmpty {
        var counter = 1
        while usedNames.contains("input_\(counter)") { counter += 1 }
        name = "input_\(counter)"
      }
      guard usedNames.insert(name).inserted else {
        throw PlexusError.invalidConfiguration("two model inputs are named '\(name)'")
      }
      slotOfTensor[ObjectIdentifier(tensor)] = index
      inputSpecs.append(InputSpec(name: name, shape: tensor.shape))
      slotShapes.append(tensor.shape)
      slotProducers.append(nil)
      slotOutputIndices.append(0)
    }

    // Collect the calls the outputs depend on, in dependency order (iterative post-order).
    var order: [LayerCall] = []
    var visited = Set<ObjectIdentifier>()
    var usedInputs = Set<ObjectIdentifier>()
    func dependencies(of tensor: SymbolicTensor) throws -> LayerCall? {
      switch tensor.source {
      case .input(let name):
        guard slotOfTensor[ObjectIdentifier(tensor)] != nil else {
          throw PlexusError.invalidConfiguration(
            "the outputs depend on input '\(name.isEmpty ? "(unnamed)" : name)' "
              + "\(ShapeCheck.describeBatch(tensor.shape)), which is not among the model's inputs")
        }
        usedInputs.insert(ObjectIdentifier(tensor))
        return nil
      case .node(let call, _): return call
      }
    }
    for output in outputs {
      guard let root = try dependencies(of: output) else { continue }
      var stack: [(call: LayerCall, nextInput: Int)] = []
      if visited.insert(ObjectIdentifier(root)).inserted { stack.append((root, 0)) }
      while let top = stack.last {
        if top.nextInput < top.call.inputs.count {
          stack[stack.count - 1].nextInput += 1
          if let child = try dependencies(of: top.call.inputs[top.nextInput]),
            visited.insert(ObjectIdentifier(child)).inserted
          {
            stack.append((child, 0))
          }
        } else {
          order.append(top.call)
          stack.removeLast()
        }
      }
    }
    for (index, tensor) in inputs.enumerated() where !usedInputs.contains(ObjectIdentifier(tensor))
    {
      throw PlexusError.invalidConfiguration(
        "input '\(inputSpecs[index].name)' is not connected to any output of the model")
    }

    // Layers, each once; names unique and distinct from the input names.
    var layers: [any Layer] = []
    var layerIndex: [ObjectIdentifier: Int] = [:]
    var callCounts: [Int] = []
    for call in order where layerIndex[ObjectIdentifier(call.layer)] == nil {
      layerIndex[ObjectIdentifier(call.layer)] = layers.count
      layers.append(call.layer)
      callCounts.append(0)
    }
    var layerNames: [String: Int] = [:]
    for (index, layer) in layers.enumerated() where !layer.name.isEmpty {
      if let other = layerNames[layer.name], other != index {
        throw PlexusError.invalidConfiguration(
          "two different layers of the model are named '\(layer.name)'")
      }
      guard !usedNames.contains(layer.name) else {
        throw PlexusError.invalidConfiguration(
          "layer '\(layer.name)' has the name of a model input")
      }
      layerNames[layer.name] = index
    }
    for (index, layer) in layers.enumerated() where layer.name.isEmpty {
      let prefix = type(of: layer).defaultNamePrefix
      var counter = 1
      while layerNames["\(prefix)_\(counter)"] != nil || usedNames.contains("\(prefix)_\(counter)")
      {
        counter += 1
      }
      layer.name = "\(prefix)_\(counter)"
      layerNames[layer.name] = index
    }

    // Nodes and their slots.
    var nodes: [Node] = []
    var slotOfOutput: [ObjectIdentifier: Int] = [:]  // first output slot of each call
    func slot(of tensor: SymbolicTensor) -> Int {
      switch tensor.source {
      case .input: return slotOfTensor[ObjectIdentifier(tensor)]!
      case .node(let call, let index): return slotOfOutput[ObjectIdentifier(call)]! + index
      }
    }
    for call in order {
      let index = layerIndex[ObjectIdentifier(call.layer)]!
      let first = slotShapes.count
      slotOfOutput[ObjectIdentifier(call)] = first
      for (outputIndex, shape) in call.outputShapes.enumerated() {
        slotShapes.append(shape)
        slotProducers.append(nodes.count)
        slotOutputIndices.append(outputIndex)
      }
      let unary =
        call.inputs.count == 1 && call.outputShapes.count == 1
        ? call.layer as? any UnaryLayer : nil
      nodes.append(
        Node(
          layer: call.layer, layerIndex: index, callIndex: callCounts[index],
          inputSlots: call.inputs.map(slot(of:)),
          outputSlots: Array(first..<slotShapes.count), unary: unary))
      callCounts[index] += 1
    }

    // Outputs and their names.
    var outputSpecs: [OutputSpec] = []
    var outputNamesUsed = Set<String>()
    for (index, tensor) in outputs.enumerated() {
      let outputSlot = slot(of: tensor)
      var name: String
      if let outputNames {
        name = outputNames[index]
        guard !name.isEmpty, outputNamesUsed.insert(name).inserted else {
          throw PlexusError.invalidConfiguration(
            "output name '\(name)' is empty or given twice")
        }
      } else {
        switch tensor.source {
        case .input: name = inputSpecs[outputSlot].name
        case .node(let call, let outputIndex):
          let callNumber = nodes[slotProducers[outputSlot]!].callIndex
          name = call.layer.name
          if callNumber > 0 { name += "_call\(callNumber + 1)" }
          if call.outputShapes.count > 1 { name += "_\(outputIndex)" }
        }
        let base = name
        var counter = 2
        while !outputNamesUsed.insert(name).inserted {
          name = "\(base)_\(counter)"
          counter += 1
        }
      }
      outputSpecs.append(OutputSpec(name: name, shape: tensor.shape, slot: outputSlot))
    }

    self.inputs = inputSpecs
    self.layers = layers
    self.nodes = nodes
    self.outputs = outputSpecs
    self.slotCount = slotShapes.count
    self.slotShapes = slotShapes
    self.slotProducers = slotProducers
    self.slotOutputIndices = slotOutputIndices
    var chain: [any UnaryLayer]? = []
    var previous = 0
    for node in nodes {
      guard let unary = node.unary, node.inputSlots == [previous] else {
        chain = nil
        break
      }
      chain?.append(unary)
      previous = node.outputSlots[0]
    }
    let isChain = inputSpecs.count == 1 && outputSpecs.count == 1 && outputSpecs[0].slot == previous
    self.chain = isChain ? chain : nil
    self.nestedModelNodes = nodes.indices.filter { nodes[$0].layer is any ModelProtocol }
  }

  // MARK: Parameters

  /// Every parameter of the graph's layers, each once (a shared layer or a tied weight counts
  /// once).
  public var parameters: [Parameter] {
    var seen = Set<ObjectIdentifier>()
    return layers.flatMap(\.parameters).filter { seen.insert(ObjectIdentifier($0)).inserted }
  }

  /// The parameters training updates: those of trainable layers, each once.
  public var trainableParameters: [Parameter] {
    var seen = Set<ObjectIdentifier>()
    return layers.flatMap(\.trainableParameters).filter {
      seen.insert(ObjectIdentifier($0)).inserted
    }
  }

  /// The parameters with their paths (`dense_1.kernel`), each parameter once, prefixed with
  /// `prefix` (a nested model's name and a dot).
  public func namedParameters(prefix: String) -> [(path: String, parameter: Parameter)] {
    var seen = Set<ObjectIdentifier>()
    return layers.flatMap(\.namedParameters).compactMap { entry in
      seen.insert(ObjectIdentifier(entry.parameter)).inserted
        ? (path: prefix + entry.path, parameter: entry.parameter) : nil
    }
  }

  /// Draws the initial values of every parameter not yet materialized, a generator split from
  /// `generator` per layer in the order of `layers`. Materialized parameters keep their values.
  public func initialize(using generator: inout SeededGenerator) throws {
    for layer in layers {
      var layerGenerator = generator.split()
      try layer.initialize(using: &layerGenerator)
    }
  }

  // MARK: Running

  /// A tape for running this graph (reuse it from one step to the next).
  public func makeTape() -> GraphTape { GraphTape(graph: self) }

  /// Runs the graph in inference mode with a pooled tape, then clears that tape.
  ///
  /// - Throws: as `forward(_:tape:training:)`.
  public func infer(_ inputs: [Tensor]) throws -> [Tensor] {
    let tape = tapePool.withLock { $0.popLast()?.tape } ?? makeTape()
    var usedSlots = true
    defer {
      if usedSlots {
        tape.clear()
      } else {
        for index in nestedModelNodes { tape.records[index].clear() }
      }
      let pooled = PooledTape(tape: tape)
      tapePool.withLock { pool in
        if pool.count < 16 { pool.append(pooled) }
      }
    }
    guard let chain, inputs.count == 1 else {
      return try forward(inputs, tape: tape, training: false, recording: false)
    }
    usedSlots = false
    let batch = try checkInputs(inputs)
    var value = inputs[0]
    for (index, layer) in chain.enumerated() {
      let record = tape.records[index]
      record.begin(input: value, training: false, recording: false)
      value = try layer.forward(value, record: record)
      try checkOutput(value, slot: nodes[index].outputSlots[0], batch: batch, node: nodes[index])
    }
    return [value]
  }

  /// Checks the inputs of a run against the model's inputs and returns the batch size.
  private func checkInputs(_ inputs: [Tensor]) throws -> Int {
    guard inputs.count == self.inputs.count else {
      throw PlexusError.invalidArgument(
        "the model takes \(self.inputs.count) inputs (\(self.inputs.map(\.name).joined(separator: ", "))), got \(inputs.count)"
      )
    }
    let batch = inputs[0].rank > 0 ? inputs[0].shape[0] : 0
    for (tensor, spec) in zip(inputs, self.inputs) {
      try ShapeCheck.requireBatch(tensor, matches: spec.shape, layer: "input '\(spec.name)'")
      guard tensor.shape[0] == batch else {
        throw PlexusError.invalidArgument(
          "input '\(spec.name)' has \(tensor.shape[0]) samples but input '\(self.inputs[0].name)' has \(batch)"
        )
      }
    }
    return batch
  }

  /// Runs the graph on a batch: one tensor per input, all with the same number of samples.
  /// Without `recording` (inference that will not be followed by a backward pass) the records
  /// keep no tensors.
  ///
  /// - Throws: `PlexusError.shapeMismatch` naming the input whose shape does not fit;
  ///   `.invalidArgument` for a wrong number of inputs or differing sample counts; the layers'
  ///   errors.
  public func forward(
    _ inputs: [Tensor], tape: GraphTape, training: Bool, recording: Bool = true,
    inputMasks: [SequenceMask?] = []
  ) throws -> [Tensor] {
    precondition(tape.graphIdentifier == ObjectIdentifier(self), "a tape runs only its own graph")
    let batch = try checkInputs(inputs)
    tape.isTraining = training
    for index in inputs.indices { tape.values[index] = inputs[index] }
    // Sequence masks travel with the tensors (only when some input or layer makes one).
    var masks = tape.masks
    masks.removeAll(keepingCapacity: true)
    if inputMasks.contains(where: { $0 != nil }) {
      masks = Array(repeating: nil, count: slotCount)
      for (index, mask) in inputMasks.enumerated() where index < inputs.count {
        masks[index] = mask
      }
    }
    defer { tape.masks = masks }
    for (nodeIndex, node) in nodes.enumerated() {
      let record = tape.records[nodeIndex]
      let nodeMasks = masks.isEmpty ? [] : node.inputSlots.map { masks[$0] }
      let masked = nodeMasks.contains { $0 != nil }
      if let unary = node.unary {
        let input = tape.values[node.inputSlots[0]]!
        record.begin(input: input, training: training, recording: recording)
        record.inputMasks = masked ? nodeMasks : []
        let result = try unary.forward(input, record: record)
        try checkOutput(result, slot: node.outputSlots[0], batch: batch, node: node)
        tape.values[node.outputSlots[0]] = result
        record.finish(output: result)
        propagateMasks(
          node: node, record: record, inputMasks: masked ? nodeMasks : [], into: &masks)
        continue
      }
      record.begin(inputs: node.inputSlots.map { tape.values[$0]! }, training: training)
      record.inputMasks = masked ? nodeMasks : []
      let results = try node.layer.forward(record.inputs, record: record)
      guard results.count == node.outputSlots.count else {
        throw PlexusError.invalidConfiguration(
          "layer '\(node.layer.name)' returned \(results.count) outputs, expected \(node.outputSlots.count)"
        )
      }
      for (result, slot) in zip(results, node.outputSlots) {
        try checkOutput(result, slot: slot, batch: batch, node: node)
        tape.values[slot] = result
      }
      record.outputs = results
      if !recording { record.inputs.removeAll(keepingCapacity: true) }
      propagateMasks(node: node, record: record, inputMasks: masked ? nodeMasks : [], into: &masks)
    }
    tape.hasForwardPass = recording
    return outputs.map { tape.values[$0.slot]! }
  }

  /// Stores the masks of a node's outputs: those its layer set, else (for a layer that
  /// propagates masks) its first input's.
  private func propagateMasks(
    node: Node, record: CallRecord, inputMasks: [SequenceMask?], into masks: inout [SequenceMask?]
  ) {
    let made = record.outputMasks.contains { $0 != nil }
    let passed = node.layer.propagatesSequenceMask ? inputMasks.first ?? nil : nil
    guard made || passed != nil else {
      if !masks.isEmpty { for slot in node.outputSlots { masks[slot] = nil } }
      return
    }
    if masks.isEmpty { masks = Array(repeating: nil, count: slotCount) }
    for (index, slot) in node.outputSlots.enumerated() {
      masks[slot] =
        made ? (index < record.outputMasks.count ? record.outputMasks[index] : nil) : passed
    }
  }

  /// The masks of the outputs after the last forward pass on `tape` (empty when none has one).
  public func outputMasks(of tape: GraphTape) -> [SequenceMask?] {
    guard !tape.masks.isEmpty else { return [] }
    let result = outputs.map { tape.masks[$0.slot] }
    return result.contains { $0 != nil } ? result : []
  }

  /// Throws unless a layer's output has the batch and the per-sample shape the graph was
  /// built with.
  private func checkOutput(_ result: Tensor, slot: Int, batch: Int, node: Node) throws {
    let shape = slotShapes[slot]
    guard result.rank == shape.count + 1, result.shape[0] == batch,
      ShapeCheck.accepts(shape, sample: result.shape.dropFirst())
    else {
      throw PlexusError.shapeMismatch(
        layer: node.layer.name,
        expected: "an output of shape \(ShapeCheck.describeBatch(shape)) with N = \(batch)",
        found: result.shape)
    }
  }

  /// Propagates gradients back through the last forward pass on `tape`.
  ///
  /// `outputGradients` has one entry per output; `nil` means the loss does not depend on that
  /// output. Only nodes that lead to trainable parameters (or, with `computingInputGradients`,
  /// to the model inputs) run their backward pass; a tensor that feeds several nodes sums
  /// their gradients. Parameter gradients accumulate into `Parameter.gradient`.
  ///
  /// - Returns: one gradient per model input (`nil` without `computingInputGradients`, or
  ///   when the outputs do not depend on that input).
  /// - Throws: `PlexusError.invalidArgument` when no forward pass is recorded or the
  ///   gradients do not match the outputs; the layers' errors.
  public func backward(
    _ outputGradients: [Tensor?], tape: GraphTape, computingInputGradients: Bool
  ) throws -> [Tensor?] {
    precondition(tape.graphIdentifier == ObjectIdentifier(self), "a tape runs only its own graph")
    guard tape.hasForwardPass else {
      throw PlexusError.invalidArgument("backward called before a forward pass on this tape")
    }
    guard outputGradients.count == outputs.count else {
      throw PlexusError.invalidArgument(
        "the model has \(outputs.count) outputs but \(outputGradients.count) gradients were given")
    }
    // Which slots need a gradient: those that lead to trainable parameters or requested inputs.
    for index in inputs.indices { tape.slotNeedsGradient[index] = computingInputGradients }
    for (nodeIndex, node) in nodes.enumerated() {
      let needs =
        tape.nodeHasTrainableParameters[nodeIndex]
        || node.inputSlots.contains { tape.slotNeedsGradient[$0] }
      tape.nodeNeedsBackward[nodeIndex] = needs
      for slot in node.outputSlots { tape.slotNeedsGradient[slot] = needs }
    }
    for index in tape.gradients.indices { tape.gradients[index] = nil }
    for (gradient, output) in zip(outputGradients, outputs) {
      guard let gradient else { continue }
      let value = tape.values[output.slot]!
      guard gradient.shape == value.shape else {
        throw PlexusError.shapeMismatch(
          layer: "output '\(output.name)'", expected: "a gradient of shape \(value.shape)",
          found: gradient.shape)
      }
      Graph.accumulate(gradient, into: &tape.gradients[output.slot])
    }
    for nodeIndex in nodes.indices.reversed() where tape.nodeNeedsBackward[nodeIndex] {
      let node = nodes[nodeIndex]
      let record = tape.records[nodeIndex]
      // A node runs when the loss depends on its outputs, or when it added a loss of its own
      // (its gradient then starts from zero output gradients).
      guard
        node.outputSlots.contains(where: { tape.gradients[$0] != nil })
          || (tape.isTraining && !record.contributedLosses.isEmpty)
      else { continue }
      let wantInputs = node.inputSlots.contains { tape.slotNeedsGradient[$0] }
      if let unary = node.unary {
        let slot = node.outputSlots[0]
        let outputGradient = tape.gradients[slot] ?? Tensor.zeros(record.outputs[0].shape)
        tape.gradients[slot] = nil
        let inputGradient = try unary.backward(
          outputGradient, record: record, computingInputGradient: wantInputs)
        let inputSlot = node.inputSlots[0]
        if tape.slotNeedsGradient[inputSlot], let inputGradient {
          try checkGradient(inputGradient, slot: inputSlot, tape: tape, node: node)
          Graph.accumulate(inputGradient, into: &tape.gradients[inputSlot])
        }
        continue
      }
      let outputGradients = node.outputSlots.enumerated().map { index, slot in
        tape.gradients[slot] ?? Tensor.zeros(record.outputs[index].shape)
      }
      for slot in node.outputSlots { tape.gradients[slot] = nil }
      let inputGradients = try node.layer.backward(
        outputGradients, record: record, computingInputGradients: wantInputs)
      guard inputGradients.count == node.inputSlots.count else {
        throw PlexusError.invalidConfiguration(
          "layer '\(node.layer.name)' returned \(inputGradients.count) input gradients, expected \(node.inputSlots.count)"
        )
      }
      for (gradient, slot) in zip(inputGradients, node.inputSlots)
      where tape.slotNeedsGradient[slot] {
        guard let gradient else { continue }
        try checkGradient(gradient, slot: slot, tape: tape, node: node)
        Graph.accumulate(gradient, into: &tape.gradients[slot])
      }
    }
    return inputs.indices.map { computingInputGradients ? tape.gradients[$0] : nil }
  }

  /// Throws unless an input gradient has the shape of the value it belongs to.
  private func checkGradient(_ gradient: Tensor, slot: Int, tape: GraphTape, node: Node) throws {
    let value = tape.values[slot]!
    guard gradient.shape == value.shape else {
      throw PlexusError.shapeMismatch(
        layer: node.layer.name, expected: "an input gradient of shape \(value.shape)",
        found: gradient.shape)
    }
  }

  /// Adds `gradient` to a slot's gradient (a tensor read by several nodes sums them).
  static func accumulate(_ gradient: Tensor, into slot: inout Tensor?) {
    guard var existing = slot else {
      slot = gradient
      return
    }
    slot = nil
    existing.withUnsafeMutableBufferPointer { destination in
      gradient.withUnsafeBufferPointer { source in
        for index in destination.indices { destination[index] += source[index] }
      }
    }
    slot = existing
  }
}

/// What one run of a graph keeps for its backward pass: the value of every slot and one
/// `CallRecord` per node. Use a tape from one task at a time; reuse it across steps.
public final class GraphTape {
  let graphIdentifier: ObjectIdentifier
  var values: [Tensor?]
  var gradients: [Tensor?]
  /// The call records, one per node of the graph, in node order.
  public let records: [CallRecord]
  var slotNeedsGradient: [Bool]
  var nodeNeedsBackward: [Bool]
  /// Which nodes' layers have trainable parameters, as when the tape was made: make a new
  /// tape after freezing or unfreezing layers (`fit` makes one per run).
  let nodeHasTrainableParameters: [Bool]
  var hasForwardPass = false
  /// The sequence mask of each value slot in the last forward pass (empty: none).
  var masks: [SequenceMask?] = []
  /// Whether the last forward pass ran in training mode.
  public internal(set) var isTraining = false

  init(graph: Graph) {
    graphIdentifier = ObjectIdentifier(graph)
    values = Array(repeating: nil, count: graph.slotCount)
    gradients = Array(repeating: nil, count: graph.slotCount)
    records = graph.nodes.map { _ in CallRecord() }
    slotNeedsGradient = Array(repeating: false, count: graph.slotCount)
    nodeNeedsBackward = Array(repeating: false, count: graph.nodes.count)
    nodeHasTrainableParameters = graph.nodes.map { !$0.layer.trainableParameters.isEmpty }
  }

  /// The losses the layers contributed in the last forward pass (in training mode), summed by
  /// name, in the order they first appear.
  public var contributedLosses: [(name: String, value: Float)] {
    guard isTraining else { return [] }
    var totals: [(name: String, value: Float)] = []
    for record in records {
      for loss in record.contributedLosses {
        if let index = totals.firstIndex(where: { $0.name == loss.name }) {
          totals[index].value += loss.value
        } else {
          totals.append(loss)
        }
      }
    }
    return totals
  }

  /// The value of a slot in the last forward pass.
  public func value(ofSlot slot: Int) -> Tensor? { values[slot] }

  /// Drops every tensor of the last run.
  public func clear() {
    for index in values.indices {
      values[index] = nil
      gradients[index] = nil
    }
    for record in records { record.clear() }
    hasForwardPass = false
  }
}

/// A tape parked in a graph's pool between inference calls; only the pool touches it.
private struct PooledTape: @unchecked Sendable {
  let tape: GraphTape
}
