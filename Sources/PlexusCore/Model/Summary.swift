extension ModelProtocol {
  /// A Keras-style table of the model's layers: name, type, output shape, parameter count and,
  /// for graph models, the tensors each layer is connected to (Keras's "Connected to"; a shared
  /// layer lists each call, separated by `;`). Nested models are expanded below their own row,
  /// indented; frozen layers are marked `(frozen)`. Shared layers and tied weights count once
  /// in the totals.
  public func summary() -> String {
    let graph = try? builtGraph()
    let showsConnections = !(self is Sequential)
    var rows: [[String]] = [
      ["Layer", "Type", "Output shape", "Params"] + (showsConnections ? ["Connected to"] : [])
    ]
    Self.appendRows(
      of: self, graph: graph, depth: 0, showsConnections: showsConnections, into: &rows)
    let columns = rows[0].count
    let widths = (0..<columns).map { column in rows.map { $0[column].count }.max() ?? 0 }
    func line(_ row: [String]) -> String {
      row.enumerated().map { column, cell in
        let padding = String(repeating: " ", count: widths[column] - cell.count)
        return column == 3 ? padding + cell : cell + padding
      }.joined(separator: "  ").replacingTrailingSpaces()
    }
    let ruleWidth = widths.reduce(0, +) + 2 * (columns - 1)
    var text = "Model: \(name.isEmpty ? Self.defaultNamePrefix : name)\n"
    text += String(repeating: "=", count: ruleWidth) + "\n" + line(rows[0]) + "\n"
    text += String(repeating: "-", count: ruleWidth) + "\n"
    for row in rows.dropFirst() { text += line(row) + "\n" }
    text += String(repeating: "=", count: ruleWidth) + "\n"
    let total = parameters.reduce(0) { $0 + $1.count }
    let trainable = trainableParameters.reduce(0) { $0 + $1.count }
    text +=
      "Total params: \(total)\nTrainable params: \(trainable)\nNon-trainable params: \(total - trainable)\n"
    return text
  }

  private static func appendRows(
    of model: any ModelProtocol, graph: Graph?, depth: Int, showsConnections: Bool,
    into rows: inout [[String]]
  ) {
    let indent = String(repeating: "  ", count: depth)
    guard let graph else {
      for layer in model.sublayers {
        rows.append(
          [indent + layer.name, layer.typeName, "?", String(layer.parameterCount)]
            + (showsConnections ? [""] : []))
      }
      return
    }
    if showsConnections && depth == 0 {
      for input in graph.inputs {
        rows.append([input.name, "input", ShapeCheck.describeBatch(input.shape), "0", ""])
      }
    }
    func tensorName(_ slot: Int) -> String {
      guard let producer = graph.slotProducers[slot] else { return graph.inputs[slot].name }
      let node = graph.nodes[producer]
      var text = node.layer.name
      if node.callIndex > 0 { text += "#\(node.callIndex + 1)" }
      if node.outputSlots.count > 1 { text += "[\(graph.slotOutputIndices[slot])]" }
      return text
    }
    for (index, layer) in graph.layers.enumerated() {
      let calls = graph.nodes.filter { $0.layerIndex == index }
      let shapes = calls.first.map { node in
        node.outputSlots.map { ShapeCheck.describeBatch(graph.slotShapes[$0]) }
          .joined(separator: ", ")
      }
      let connections = calls.map { $0.inputSlots.map(tensorName).joined(separator: ", ") }
        .joined(separator: "; ")
      let type = layer.typeName + (layer.isTrainable ? "" : " (frozen)")
      rows.append(
        [indent + layer.name, type, shapes ?? "?", String(layer.parameterCount)]
          + (showsConnections ? [connections] : []))
      if let nested = layer as? any ModelProtocol {
        appendRows(
          of: nested, graph: try? nested.builtGraph(), depth: depth + 1,
          showsConnections: showsConnections, into: &rows)
      }
    }
  }
}

extension String {
  fileprivate func replacingTrailingSpaces() -> String {
    var result = self
    while result.last == " " { result.removeLast() }
    return result
  }
}
