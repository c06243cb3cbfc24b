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
public class Adam: ConfiguredOptimizer {
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
    /// The weight decay: an L2 term for Adam (default 0), decoupled for AdamW (default 0.01,
    /// `AdamW.defaultConfiguration`).
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

    /// Adam's defaults (AdamW's are `AdamW.defaultConfiguration`).
    public static var defaults: Configuration { Configuration() }

    public static var fields: [ConfigField<Configuration>] {
      [
        .init("learningRate", \.learningRate), .init("beta1", \.beta1), .init("beta2", \.beta2),
        .init("epsilon", \.epsilon), .init("weightDecay", \.weightDecay),
        .init("amsgrad", \.amsgrad),
      ]
    }

    /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
    public func validate(optimizer: String = Adam.typeName) throws {
      try OptimizerCheck.learningRate(learningRate, optimizer: optimizer)
      try OptimizerCheck.factor(beta1, name: "beta1", optimizer: optimizer)
      try OptimizerCheck.factor(beta2, name: "beta2", optimizer: optimizer)
      try OptimizerCheck.range(epsilon, name: "epsilon", optimizer: optimizer, "positive") {
        $0 > 0
      }
      try OptimizerCheck.nonNegative(weightDecay, name: "weightDecay", optimizer: optimizer)
    }

    /// `m` and `v` (the moments) and, with amsgrad, `v_max`.
    public var slotNames: [String] { amsgrad ? ["m", "v", "v_max"] : ["m", "v"] }
  }

  public class var typeName: String { "plexus.adam" }
  public class var defaultConfiguration: Configuration { Configuration.defaults }

  /// Whether the weight decay is decoupled (AdamW) rather than an L2 term (Adam).
  class var decouplesWeightDecay: Bool { false }

  public let storage: OptimizerStorage<Configuration>

  /// Creates the optimizer from a configuration (AdamW: with decoupled weight decay).
  ///
  /// - Throws: `PlexusError.invalidConfiguration` for a value out of range.
  public required init(configuration: Configuration) throws {
    storage = try OptimizerStorage(configuration: configuration, for: Self.self)
  }

  /// Creates the optimizer.
  ///
  /// - Precondition: the hyperparameters are in range (use `init(configuration:)` for values
  ///   read from data).
  public convenience init(
    learningRate: Float = Configuration.defaults.learningRate,
    beta1: Float = Configuration.defaults.beta1, beta2: Float = Configuration.defaults.beta2,
    epsilon: Float = Configuration.defaults.epsilon,
    weightDecay: Float = Configuration.defaults.weightDecay,
    amsgrad: Bool = Configuration.defaults.amsgrad
  ) {
    let configuration = Configuration(
      learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
      weightDecay: weightDecay, amsgrad: amsgrad)
    do { try self.init(configuration: configuration) } catch { preconditionFailure("\(error)") }
  }

  public func update(_ parameters: [Parameter]) {
    let c = storage.configuration
    let t = Double(storage.stepCount)
    let stepSize = Float(Double(c.learningRate) / (1 - Foundation.pow(Double(c.beta1), t)))
    let rootCorrection2 = Float((1 - Foundation.pow(Double(c.beta2), t)).squareRoot())
    // AdamW shrinks the weight first and adds no L2 term; Adam keeps the weight and adds
    // the L2 term (w * 1 and g + 0 * w are exact, so one branch-free loop serves both).
    let decoupled = type(of: self).decouplesWeightDecay
    let decayFactor = decoupled ? 1 - c.learningRate * c.weightDecay : 1
    let l2 = decoupled ? 0 : c.weightDecay
    let (beta1, beta2, epsilon) = (c.beta1, c.beta2, c.epsilon)
    let (keep1, keep2) = (1 - c.beta1, 1 - c.beta2)
    let amsgrad = c.amsgrad
    let initial = storage.initialSlotValues
    for parameter in parameters where parameter.isTrainable {
      let p = storage.slots.pointers(for: parameter, initialValues: initial)
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
  public override class var typeName: String { "plexus.adamw" }

  /// Adam's defaults with a weight decay of 0.01.
  public override class var defaultConfiguration: Configuration {
    Configuration(weightDecay: 0.01)
  }

  override class var decouplesWeightDecay: Bool { true }

  /// Creates the optimizer.
  ///
  /// - Precondition: the hyperparameters are in range (use `init(configuration:)` for values
  ///   read from data).
  public convenience init(
    learningRate: Float = AdamW.defaultConfiguration.learningRate,
    beta1: Float = AdamW.defaultConfiguration.beta1,
    beta2: Float = AdamW.defaultConfiguration.beta2,
    epsilon: Float = AdamW.defaultConfiguration.epsilon,
    weightDecay: Float = AdamW.defaultConfiguration.weightDecay,
    amsgrad: Bool = AdamW.defaultConfiguration.amsgrad
  ) {
    let configuration = Configuration(
      learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
      weightDecay: weightDecay, amsgrad: amsgrad)
    do { try self.init(configuration: configuration) } catch { preconditionFailure("\(error)") }
  }
}
