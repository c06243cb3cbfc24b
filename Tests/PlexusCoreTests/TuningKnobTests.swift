import Dispatch
import PlexusCore
import Synchronization
import Testing

/// Knobs of the tests' own: changing their process defaults cannot disturb other tests that
/// run at the same time (the library's knobs change the summation order of split work).
private enum TestKnobs {
  static let width = TuningKnob(name: "TestKnobs.width", initialDefault: 5, validValues: 1...100)
  static let depth = TuningKnob(name: "TestKnobs.depth", initialDefault: 2, validValues: 1...100)
  static let bounded = TuningKnob(
    name: "TestKnobs.bounded", initialDefault: 5, validValues: 1...100)
  static let clamped = TuningKnob(
    name: "TestKnobs.clamped", initialDefault: 0, validValues: 1...4)
}

/// A counter that concurrent tasks share.
private final class Counter: Sendable {
  let value = Atomic<Int>(0)
}

private struct Stop: Error {}

@Suite struct TuningKnobTests {
  @Test func theProcessDefaultAppliesWithoutAnOverrideAndCanBeReset() throws {
    let knob = TestKnobs.width
    #expect(knob.current == 5)
    #expect(knob.defaultValue == 5)
    try knob.setDefault(7)
    #expect(knob.current == 7)
    // Another thread without an override sees the new default at once.
    let seen = Mutex(0)
    DispatchQueue.global().sync { seen.withLock { $0 = knob.current } }
    #expect(seen.withLock { $0 } == 7)
    #expect(try knob.withValue(9) { knob.current } == 9)
    #expect(knob.current == 7)
    knob.resetDefault()
    #expect(knob.current == 5)
    #expect(knob.initialDefault == 5)
  }

  @Test func nestedOverridesRestoreTheOuterValueAlsoWhenThrowing() throws {
    let knob = TestKnobs.depth
    try knob.withValue(3) {
      #expect(knob.current == 3)
      try knob.withValue(4) { #expect(knob.current == 4) }
      #expect(knob.current == 3)
      #expect(throws: Stop.self) {
        try knob.withValue(8) {
          #expect(knob.current == 8)
          throw Stop()
        }
      }
      #expect(knob.current == 3)
    }
    #expect(knob.current == 2)
  }

  @Test func overridesAreTaskLocalAndInheritedByChildTasks() async throws {
    let knob = TestKnobs.depth
    let entered = Counter()
    // Three tasks overlap in time: each keeps reading the value until all three are running
    // (two with their own override, one with none) and records what it saw.
    let seen = try await withThrowingTaskGroup(of: (Int?, [Int]).self) { group in
      for override in [11, 22, nil] as [Int?] {
        group.addTask {
          @Sendable func observe() async -> [Int] {
            var values = [knob.current]
            entered.value.add(1, ordering: .relaxed)
            while entered.value.load(ordering: .relaxed) < 3 {
              values.append(knob.current)
              await Task.yield()
            }
            values.append(knob.current)
            return values
          }
          guard let override else { return (nil, await observe()) }
          return (override, try await knob.withValue(override) { await observe() })
        }
      }
      var results: [(Int?, [Int])] = []
      for try await result in group { results.append(result) }
      return results
    }
    #expect(seen.count == 3)
    for (override, values) in seen {
      #expect(values.allSatisfy { $0 == (override ?? 2) }, "\(String(describing: override))")
    }
    // Structured and unstructured children inherit the override; a detached task does not.
    try await knob.withValue(40) {
      async let child = knob.current
      #expect(await child == 40)
      #expect(await Task { knob.current }.value == 40)
      #expect(await Task.detached { knob.current }.value == 2)
    }
    #expect(knob.current == 2)
  }

  @Test func overridesOnOneThreadAreNotSeenByAnother() throws {
    let knob = TestKnobs.width
    let mismatches = Mutex(0)
    DispatchQueue.concurrentPerform(iterations: 8) { index in
      let value = 10 + index
      do {
        try knob.withValue(value) {
          for _ in 0..<1000 where knob.current != value { mismatches.withLock { $0 += 1 } }
        }
      } catch {
        mismatches.withLock { $0 += 1000 }
      }
    }
    #expect(mismatches.withLock { $0 } == 0)
  }

  @Test func invalidValuesAreRefusedWithAnError() throws {
    for invalid in [0, -1, Int.min, 1025] {
      var ran = false
      #expect(throws: PlexusError.self) {
        try Parallel.maximumThreads.withValue(invalid) { ran = true }
      }
      #expect(!ran, "the operation must not run with \(invalid) threads")
      #expect(throws: PlexusError.self) { try Parallel.maximumThreads.setDefault(invalid) }
    }
    #expect(Parallel.maximumThreads.defaultValue == Parallel.maximumThreads.initialDefault)
    #expect(
      throws: PlexusError.invalidArgument("Parallel.maximumThreads must be in 1...1024, got 0")
    ) {
      try Parallel.maximumThreads.withValue(0) {}
    }
    #expect(throws: PlexusError.self) { try BLAS.minimumParallelWork.withValue(0) {} }
    #expect(throws: PlexusError.self) { try Parallel.minimumElementsPerThread.check(-4) }
    #expect(throws: PlexusError.self) { try TestKnobs.bounded.setDefault(101) }
    #expect(TestKnobs.bounded.defaultValue == 5)
    // A declared default outside the valid values is clamped into them.
    #expect(TestKnobs.clamped.initialDefault == 1)
    #expect(TestKnobs.clamped.current == 1)
  }

  @Test func invalidValuesAreRefusedInAsyncOverrides() async throws {
    await #expect(throws: PlexusError.self) {
      try await Parallel.maximumThreads.withValue(0) { await Task.yield() }
    }
    let inside = try await Parallel.maximumThreads.withValue(1) {
      await Task.yield()
      return Parallel.maximumThreads.current
    }
    #expect(inside == 1)
  }

  @Test func theLibraryKnobsStartWithTheirDocumentedDefaults() {
    #expect(Parallel.maximumThreads.initialDefault == min(ProcessInfoCores.count, 1024))
    #expect(Parallel.maximumThreads.validValues == 1...1024)
    #expect(Parallel.minimumElementsPerThread.initialDefault == 1 << 16)
    #expect(BLAS.minimumParallelWork.initialDefault == 1 << 22)
  }

  @Test func splitLoopsFollowTheThreadAndWorkKnobs() throws {
    func chunks(count: Int, costPerElement: Int = 1) -> [Range<Int>] {
      let ranges = Mutex<[Range<Int>]>([])
      Parallel.forEachChunk(count: count, costPerElement: costPerElement) { range in
        ranges.withLock { $0.append(range) }
      }
      return ranges.withLock { $0 }.sorted { $0.lowerBound < $1.lowerBound }
    }
    try Parallel.maximumThreads.withValue(3) {
      // Below twice the work per thread: one chunk on the calling thread.
      #expect(chunks(count: 1000) == [0..<1000])
      try Parallel.minimumElementsPerThread.withValue(100) {
        #expect(chunks(count: 1000) == [0..<334, 334..<668, 668..<1000])
        #expect(chunks(count: 150) == [0..<150])
        #expect(chunks(count: 100, costPerElement: 2) == [0..<50, 50..<100])
        try Parallel.maximumThreads.withValue(1) {
          #expect(chunks(count: 1000) == [0..<1000])
        }
      }
    }
    #expect(chunks(count: 0).isEmpty)
  }
}
