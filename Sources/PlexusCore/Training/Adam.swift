import Foundation

/// Adam, following PyTorch's `torch.optim.Adam` (with `weightDecay` as an L2 term added to
/// the gradient, as PyTorch does). At step `t` (1-based), for each trainable parameter `w`:
///
/// ```
/// d = g + weightDecay * w
/// m = beta1 * m + (1 - beta1) * d
/// v = beta2 * v + (1 - beta2) * d²
/// vMax = max(vMax, v)                        (amsgrad only; then v below reads vMax)
/// w = w - (learningRate / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon)
/// ```
///
/// Keras' `Adam` differs only in epsilon: it adds its epsilon (default 1e-7) to the
/// uncorrected root `sqrt(v)`.
/// Slots: `"<index>.m"`, `"<index>.v"` and, with amsgrad, `"<index>.v_max"`.
public class Adam: ConfiguredOptimizer<Adam.Configuration> {
  /// The hyperparameters of Adam and AdamW (JSON keys as the property names).
  public struct Configuration: OptimizerHyperparameters {
    /// The step size (default 0.001).
    public var learningRate: Float
    /// The decay of the first moment (default 0.9).
    public var beta1: Float
    /// The decay of the second moment (default 0.999).
    public var beta2: Float
    /// Added to the denominator for stability (default 1e-8).
    public var epsilon: Float
    /// The weight decay: an L2 term for Adam (default 0), decoupled for AdamW (default 0.01).
    public var weightDecay: Float
    /// Whether to use the AMSGrad variant.
    public var amsgrad: Bool

    /// Creates a configuration.
    public init(
      learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
      weightDecay: Float = 0, amsgrad: Bool = false
    ) {
      self.learningRate = learningRate
      self.beta1 = beta1
      self.beta2 = beta2
      self.epsilon = epsilon
      self.weightDecay = weightDecay
      self.amsgrad = amsgrad
    }

    static let keys = Set(CodingKeys.allCases.map(\.stringValue))
    private enum CodingKeys: String, CodingKey, CaseIterable {
      case learningRate, beta1, beta2, epsilon, weightDecay, amsgrad
    }

    /// Decodes with the defaults of Adam for missing keys (AdamW's decoder sets its own
    /// default weight decay).
    public init(from decoder: Decoder) throws {
      try self.init(from: decoder, defaultWeightDecay: 0)
    }

    init(from decoder: Decoder, defaultWeightDecay: Float) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      let defaults = Configuration()
      learningRate = try container.decode(.learningRate, or: defaults.learningRate)
      beta1 = try container.decode(.beta1, or: defaults.beta1)
      beta2 = try container.decode(.beta2, or: defaults.beta2)
      epsilon = try container.decode(.epsilon, or: defaults.epsilon)
      weightDecay = try container.decode(.weightDecay, or: defaultWeightDecay)
      amsgrad = try container.decode(.amsgrad, or: defaults.amsgrad)
    }

    /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
    public func validate(optimizer: String = "adam") throws {
      try OptimizerCheck.learningRate(learningRate, optimizer: optimizer)
      try OptimizerCheck.factor(beta1, name: "beta1", optimizer: optimizer)
      try OptimizerCheck.factor(beta2, name: "beta2", optimizer: optimizer)
      try OptimizerCheck.nonNegative(epsilon, name: "epsilon", optimizer: optimizer)
      try OptimizerCheck.nonNegative(weightDecay, name: "weightDecay", optimizer: optimizer)
    }

    /// `m` and `v` (the moments) and, with amsgrad, `v_max`.
    public var slotNames: [String] { amsgrad ? ["m", "v", "v_max"] : ["m", "v"] }

    /// `.adamW(self)` for `adamw`, else `.adam(self)`.
    public func optimizerConfig(typeName: String) -> OptimizerConfig {
      typeName == "adamw" ? .adamW(self) : .adam(self)
    }

    public init?(_ config: OptimizerConfig) {
      switch config {
      case .adam(let configuration), .adamW(let configuration): self = configuration
      default: return nil
      }
    }
  }

  /// Whether the weight decay is decoupled (AdamW) rather than an L2 term (Adam).
  private var decoupled: Bool { typeName == "adamw" }

  /// Creates the optimizer from a configuration.
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
  public init(configuration: Configuration) throws {
    try super.init(configuration: configuration, typeName: "adam")
  }

  /// Creates Adam or, for `typeName` `adamw`, AdamW.
  override init(configuration: Configuration, typeName: String) throws {
    try super.init(configuration: configuration, typeName: typeName)
  }

  /// Creates the optimizer.
  ///
  /// - Precondition: the hyperparameters are in range (use `init(configuration:)` for values
  ///   read from data).
  public convenience init(
    learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
    weightDecay: Float = 0, amsgrad: Bool = false
  ) {
    let configuration = Configuration(
      learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
      weightDecay: weightDecay, amsgrad: amsgrad)
    do { try self.init(configuration: configuration) } catch { preconditionFailure("\(error)") }
  }

  public override func step(_ parameters: [Parameter]) {
    stepCount += 1
    let c = configuration
    let t = Double(stepCount)
    let stepSize = Float(Double(c.learningRate) / (1 - Foundation.pow(Double(c.beta1), t)))
    let rootCorrection2 = Float((1 - Foundation.pow(Double(c.beta2), t)).squareRoot())
    // AdamW shrinks the weight first and adds no L2 term; Adam keeps the weight and adds
    // the L2 term (w * 1 and g + 0 * w are exact, so one branch-free loop serves both).
    let decayFactor = decoupled ? 1 - c.learningRate * c.weightDecay : 1
    let l2 = decoupled ? 0 : c.weightDecay
    let (beta1, beta2, epsilon) = (c.beta1, c.beta2, c.epsilon)
    let (keep1, keep2) = (1 - c.beta1, 1 - c.beta2)
    let amsgrad = c.amsgrad
    let initial = zeroSlotValues
    for parameter in parameters where parameter.isTrainable {
      let p = slots.pointers(for: parameter, initialValues: initial)
      Parallel.forEachChunk(count: parameter.count, costPerElement: 4) { range in
        if amsgrad {
          let (w, g, m, v, vMax) = (p.value, p.gradient, p.slots[0], p.slots[1], p.slots[2])
          for i in range {
            let weight = w[i] * decayFactor
            let d = g[i] + l2 * weight
            m[i] = beta1 * m[i] + keep1 * d
            v[i] = beta2 * v[i] + keep2 * d * d
            vMax[i] = Swift.max(vMax[i], v[i])
            w[i] = weight - stepSize * m[i] / (vMax[i].squareRoot() / rootCorrection2 + epsilon)
          }
        } else {
          Adam.update(
            range, p, decayFactor: decayFactor, l2: l2, beta1: beta1, beta2: beta2, keep1: keep1,
            keep2: keep2, stepSize: stepSize, rootCorrection2: rootCorrection2, epsilon: epsilon)
        }
      }
    }
  }

  /// The Adam update of `range` without AMSGrad: eight lanes at a time, then the tail. Each
  /// lane performs the same IEEE operations as the scalar tail, so results do not depend on
  /// how the range is split.
  @inline(__always)
  private static func update(
    _ range: Range<Int>, _ p: UpdatePointers, decayFactor: Float, l2: Float, beta1: Float,
    beta2: Float, keep1: Float, keep2: Float, stepSize: Float, rootCorrection2: Float,
    epsilon: Float
  ) {
    typealias Lanes = SIMD8<Float>
    let width = Lanes.scalarCount
    let stride = MemoryLayout<Float>.stride
    let w = UnsafeMutableRawPointer(p.value)
    let g = UnsafeRawPointer(p.gradient)
    let m = UnsafeMutableRawPointer(p.slots[0])
    let v = UnsafeMutableRawPointer(p.slots[1])
    let decay = Lanes(repeating: decayFactor)
    let l2Lanes = Lanes(repeating: l2)
    let beta1Lanes = Lanes(repeating: beta1)
    let beta2Lanes = Lanes(repeating: beta2)
    let keep1Lanes = Lanes(repeating: keep1)
    let keep2Lanes = Lanes(repeating: keep2)
    let stepLanes = Lanes(repeating: stepSize)
    let correctionLanes = Lanes(repeating: rootCorrection2)
    let epsilonLanes = Lanes(repeating: epsilon)
    var i = range.lowerBound
    while i + width <= range.upperBound {
      let offset = i * stride
      let weight = w.loadUnaligned(fromByteOffset: offset, as: Lanes.self) * decay
      let d = g.loadUnaligned(fromByteOffset: offset, as: Lanes.self) + l2Lanes * weight
      let first =
        beta1Lanes * m.loadUnaligned(fromByteOffset: offset, as: Lanes.self) + keep1Lanes * d
      let second =
        beta2Lanes * v.loadUnaligned(fromByteOffset: offset, as: Lanes.self) + keep2Lanes * d * d
      m.storeBytes(of: first, toByteOffset: offset, as: Lanes.self)
      v.storeBytes(of: second, toByteOffset: offset, as: Lanes.self)
      let denominator = second.squareRoot() / correctionLanes + epsilonLanes
      w.storeBytes(
        of: weight - stepLanes * first / denominator, toByteOffset: offset, as: Lanes.self)
      i += width
    }
    let (wf, gf, mf, vf) = (p.value, p.gradient, p.slots[0], p.slots[1])
    while i < range.upperBound {
      let weight = wf[i] * decayFactor
      let d = gf[i] + l2 * weight
      let first = beta1 * mf[i] + keep1 * d
      let second = beta2 * vf[i] + keep2 * d * d
      mf[i] = first
      vf[i] = second
      wf[i] = weight - stepSize * first / (second.squareRoot() / rootCorrection2 + epsilon)
      i += 1
    }
  }
}

/// AdamW: Adam with decoupled weight decay, following PyTorch's `torch.optim.AdamW`. Each step
/// first shrinks the weights, `w = w * (1 - learningRate * weightDecay)`, then applies the Adam
/// update with the plain gradient (no L2 term). Default weight decay 0.01.
/// Slots as `Adam`.
public final class AdamW: Adam {
  /// Creates the optimizer from a configuration (its `weightDecay` is decoupled).
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
  public override init(configuration: Configuration) throws {
    try super.init(configuration: configuration, typeName: "adamw")
  }

  /// Creates the optimizer.
  ///
  /// - Precondition: the hyperparameters are in range (use `init(configuration:)` for values
  ///   read from data).
  public convenience init(
    learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
    weightDecay: Float = 0.01, amsgrad: Bool = false
  ) {
    let configuration = Configuration(
      learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
      weightDecay: weightDecay, amsgrad: amsgrad)
    do { try self.init(configuration: configuration) } catch { preconditionFailure("\(error)") }
  }
}
