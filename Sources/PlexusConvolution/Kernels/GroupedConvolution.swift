import PlexusCore

/// A convolution pass split into channel groups: block `g` of the output channels is the
/// `inner` pass applied to block `g` of the input channels with block `g` of the kernel's
/// columns. With one group it is the inner pass itself, with its fast paths and fused
/// activation; with one input channel per group (depthwise) it is `DepthwiseLowering`'s
/// direct loops; otherwise each group's channels are gathered into a contiguous batch, run
/// through `inner` (im2col and `gemm`) and scattered back.
///
/// The kernel is viewed as a `[rows, groups * kernelColumns]` matrix whose rows are the
/// per-group patch (`[KH * KW * C / groups]` for a convolution, `KH * KW * O / groups` for a
/// transposed one): an HWIO kernel `[KH, KW, C / groups, filters]` and a depthwise kernel
/// `[KH, KW, C, multiplier]` (one input channel per group) are both that matrix.
struct GroupedConvolution<Inner: ConvolutionPass>: ConvolutionPass {
  /// The pass of one group (its geometry has the channels of one group).
  let inner: Inner
  /// The number of groups.
  let groups: Int
  /// The input channels of one group.
  let inputChannels: Int
  /// The output channels of one group.
  let outputChannels: Int
  /// The kernel columns of one group (the output channels of a convolution, the input
  /// channels of a transposed convolution).
  let kernelColumns: Int
  /// For a convolution with one input channel per group (depthwise), the direct loops that
  /// compute it without a column matrix per group.
  let depthwise: DepthwiseLowering?

  /// - Parameter depthwise: the direct pass for one input channel per group, if any.
  init(
    inner: Inner, groups: Int, inputChannels: Int, outputChannels: Int, kernelColumns: Int,
    depthwise: DepthwiseLowering? = nil
  ) {
    self.inner = inner
    self.groups = groups
    self.inputChannels = inputChannels
    self.outputChannels = outputChannels
    self.kernelColumns = kernelColumns
    self.depthwise = depthwise
  }

  var fusesActivation: Bool { groups == 1 && inner.fusesActivation }

  /// Copies channels `start..<start + count` of a channels-last tensor with `total` channels
  /// into a new tensor of the same leading shape.
  static func channels(of tensor: Tensor, total: Int, start: Int, count: Int) -> Tensor {
    var shape = tensor.shape
    shape[shape.count - 1] = count
    let rows = tensor.count / total
    return Tensor(unsafeUninitializedShape: shape) { out in
      tensor.withUnsafeBufferPointer { source in
        guard rows > 0, let from = source.baseAddress, let to = out.baseAddress else { return }
        for row in 0..<rows {
          (to + row * count).update(from: from + row * total + start, count: count)
        }
      }
    }
  }

  /// Adds (or, with `replacing`, copies) a block of `count` channels into channels
  /// `start..<start + count` of `target`, which has `total` channels.
  static func place(
    _ block: Tensor, into target: UnsafeMutableBufferPointer<Float>, total: Int, start: Int,
    count: Int, replacing: Bool
  ) {
    let rows = block.count / count
    block.withUnsafeBufferPointer { source in
      guard rows > 0, let from = source.baseAddress, let to = target.baseAddress else { return }
      for row in 0..<rows {
        let destination = to + row * total + start
        let origin = from + row * count
        if replacing {
          destination.update(from: origin, count: count)
        } else {
          for index in 0..<count { destination[index] += origin[index] }
        }
      }
    }
  }

  func forward(
    input: Tensor, kernel: Tensor, bias: Tensor?, activation: ActivationFunction,
    outputShape: [Int], scratch: ConvolutionScratch
  ) -> Tensor {
    guard groups > 1 else {
      return inner.forward(
        input: input, kernel: kernel, bias: bias, activation: activation,
        outputShape: outputShape, scratch: scratch)
    }
    if let depthwise {
      return depthwise.forward(
        input: input, kernel: kernel, bias: bias, activation: activation,
        outputShape: outputShape, scratch: scratch)
    }
    let (groups, inputChannels, outputChannels, kernelColumns) = (
      self.groups, self.inputChannels, self.outputChannels, self.kernelColumns
    )
    var groupShape = outputShape
    groupShape[groupShape.count - 1] = outputChannels
    // Every element belongs to exactly one group's block, written below.
    return Tensor(unsafeUninitializedShape: outputShape) { out in
      for group in 0..<groups {
        let y = inner.forward(
          input: Self.channels(
            of: input, total: groups * inputChannels, start: group * inputChannels,
            count: inputChannels),
          kernel: Self.channels(
            of: kernel, total: groups * kernelColumns, start: group * kernelColumns,
            count: kernelColumns),
          bias: bias.map {
            Self.channels(
              of: $0, total: groups * outputChannels, start: group * outputChannels,
              count: outputChannels)
          },
          activation: activation, outputShape: groupShape, scratch: scratch)
        Self.place(
          y, into: out, total: groups * outputChannels, start: group * outputChannels,
          count: outputChannels, replacing: true)
      }
    }
  }

  func backward(
    gradient: Tensor, activation: ActivationFunction, activationOutput: Tensor, input: Tensor,
    kernel: Parameter, bias: Parameter?, computingInputGradient: Bool,
    scratch: ConvolutionScratch
  ) -> Tensor? {
    guard groups > 1 else {
      return inner.backward(
        gradient: gradient, activation: activation, activationOutput: activationOutput,
        input: input, kernel: kernel, bias: bias, computingInputGradient: computingInputGradient,
        scratch: scratch)
    }
    if let depthwise {
      return depthwise.backward(
        gradient: gradient, activation: activation, activationOutput: activationOutput,
        input: input, kernel: kernel, bias: bias, computingInputGradient: computingInputGradient,
        scratch: scratch)
    }
    let (groups, inputChannels, outputChannels, kernelColumns) = (
      self.groups, self.inputChannels, self.outputChannels, self.kernelColumns
    )
    var inputGradient = Tensor.zeros(computingInputGradient ? input.shape : [1])
    for group in 0..<groups {
      let groupGradient = Self.channels(
        of: gradient, total: groups * outputChannels, start: group * outputChannels,
        count: outputChannels)
      let groupOutput =
        activation == .linear
        ? groupGradient
        : Self.channels(
          of: activationOutput, total: groups * outputChannels, start: group * outputChannels,
          count: outputChannels)
      let groupKernel = Parameter(
        name: kernel.name,
        value: Self.channels(
          of: kernel.value, total: groups * kernelColumns, start: group * kernelColumns,
          count: kernelColumns))
      let groupBias = bias.map {
        Parameter(
          name: $0.name,
          value: Self.channels(
            of: $0.value, total: groups * outputChannels, start: group * outputChannels,
            count: outputChannels))
      }
      let groupInputGradient = inner.backward(
        gradient: groupGradient, activation: activation, activationOutput: groupOutput,
        input: Self.channels(
          of: input, total: groups * inputChannels, start: group * inputChannels,
          count: inputChannels),
        kernel: groupKernel, bias: groupBias, computingInputGradient: computingInputGradient,
        scratch: scratch)
      kernel.gradient.withUnsafeMutableBufferPointer { dw in
        Self.place(
          groupKernel.gradient, into: dw, total: groups * kernelColumns,
          start: group * kernelColumns, count: kernelColumns, replacing: false)
      }
      if let bias, let groupBias {
        bias.gradient.withUnsafeMutableBufferPointer { db in
          Self.place(
            groupBias.gradient, into: db, total: groups * outputChannels,
            start: group * outputChannels, count: outputChannels, replacing: false)
        }
      }
      if let groupInputGradient {
        inputGradient.withUnsafeMutableBufferPointer { dx in
          Self.place(
            groupInputGradient, into: dx, total: groups * inputChannels,
            start: group * inputChannels, count: inputChannels, replacing: true)
        }
      }
    }
    return computingInputGradient ? inputGradient : nil
  }
}
