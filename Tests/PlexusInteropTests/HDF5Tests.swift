import Foundation
import PlexusCore
import PlexusInterop
import Testing

private let kerasFixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
  .appendingPathComponent("keras")

@Suite struct HDF5Tests {
  @Test func writesAndReadsBackGroupsDatasetsAndAttributes() throws {
    let file = try HDF5File.create()
    var generator = SeededGenerator(seed: 1)
    let kernel = Tensor.normal([3, 4], using: &generator)
    try file.writeDataset("layers/dense/vars/0", tensor: kernel)
    try file.writeDataset(
      "layers/dense/vars/1", tensor: Tensor(shape: [1], repeating: 2), scalarShape: true)
    try file.setStringAttribute("name", ["dense"], list: false, of: "layers/dense/vars")
    try file.setStringAttribute("names", ["a", "bé", ""], list: true, of: "/")
    let image = try file.image()

    let read = try HDF5File(image: image, source: "memory.h5")
    #expect(try read.kind(of: "layers") == .group)
    #expect(try read.kind(of: "layers/dense/vars/0") == .dataset)
    #expect(try read.kind(of: "layers/missing") == nil)
    #expect(try read.members(of: "layers/dense/vars").map(\.name) == ["0", "1"])
    let info = try #require(try read.datasetInfo("layers/dense/vars/0"))
    #expect(info.shape == [3, 4])
    #expect(info.elementType == .float(bytes: 4))
    #expect(try read.readTensor("layers/dense/vars/0") == kernel)
    #expect(try read.datasetInfo("layers/dense/vars/1")?.shape == [])
    #expect(try read.readTensor("layers/dense/vars/1").scalars == [2])
    #expect(try read.stringAttribute("name", of: "layers/dense/vars") == "dense")
    #expect(try read.stringsAttribute("names", of: "/") == ["a", "bé", ""])
    #expect(try read.stringAttribute("absent", of: "/") == nil)
  }

  @Test func readsWhatH5pyWrote() throws {
    // Keras's save_weights through h5py: variable-length string attributes, float32 data.
    let file = try HDF5File(contentsOf: kerasFixtures.appendingPathComponent("mlp.weights.h5"))
    #expect(try file.stringAttribute("name", of: "layers/dense/vars") == "dense")
    #expect(try file.datasetInfo("layers/dense/vars/0")?.shape == [6, 8])
    // The Keras 2 layout: fixed-length byte strings.
    let legacy = try HDF5File(contentsOf: kerasFixtures.appendingPathComponent("mlp-keras2.h5"))
    #expect(try legacy.stringAttribute("keras_version", of: "/") == "2.13.1")
    let names = try #require(try legacy.stringsAttribute("weight_names", of: "model_weights/dense"))
    #expect(names == ["dense/kernel:0", "dense/bias:0"])
    #expect(try legacy.stringsAttribute("weight_names", of: "model_weights/dropout") == [])
  }

  @Test func refusesWhatIsNotAnHDF5FileAndBadRequests() throws {
    #expect(throws: HDF5Error.self) { try HDF5File(image: Data(), source: "empty") }
    #expect(throws: HDF5Error.self) {
      try HDF5File(image: Data(repeating: 0x41, count: 4096), source: "garbage")
    }
    let image = try Data(contentsOf: kerasFixtures.appendingPathComponent("mlp.weights.h5"))
    for length in [16, 512, image.count / 2, image.count - 100] {
      // A truncated file fails when opened or when read, with an error, never a crash.
      do {
        let file = try HDF5File(image: image.prefix(length), source: "truncated")
        _ = try file.readTensor("layers/dense/vars/0")
        Issue.record("a file cut to \(length) bytes read")
      } catch is HDF5Error {}
    }
    let file = try HDF5File(image: image, source: "weights")
    #expect(throws: HDF5Error.self) { try file.readTensor("layers/dense/vars/9") }
    #expect(throws: HDF5Error.self) { try file.readTensor("layers/dense") }
    #expect(throws: HDF5Error.self) { try file.members(of: "layers/dense/vars/0") }
    #expect(throws: HDF5Error.self) { try file.kind(of: "layers//dense") }
    // The element bound is checked before anything is allocated.
    #expect {
      try file.readTensor("layers/dense/vars/0", maximumElements: 10)
    } throws: { error in
      "\(error)".contains("48 values, more than the limit of 10")
    }
  }

  @Test func refusesLinksOutsideTheFileForeignTypesAndUnbackedData() throws {
    let file = try HDF5File(contentsOf: kerasFixtures.appendingPathComponent("hostile.h5"))
    #expect(try file.readTensor("data").shape == [2, 3])
    #expect(try file.readTensor("half").scalars == [1.5, -2])
    #expect(try file.readTensor("ints").scalars == [1, 2, 3])
    let refusals = [
      ("soft", "soft or external link"), ("external", "soft or external link"),
      ("text", "string values"), ("compound", "compound values"),
      ("bomb", "stores none"), ("lzf", "HDF5 filter 32000"), ("outside", "external files"),
    ]
    for (path, message) in refusals {
      #expect("\(path)") {
        try file.readTensor(path)
      } throws: { error in
        error is HDF5Error && "\(error)".contains(message)
      }
    }
  }
}

extension HDF5Tests {
  /// A fuzzed file whose dense link storage is damaged: libhdf5 1.10 freed pointers it never
  /// set while building its sorted link table for a listing by name. Groups are listed in
  /// libhdf5's own order and sorted by Plexus, so the listing is an error or names, never a
  /// crash; the well-formed file lists its groups sorted.
  @Test func damagedLinkStorageIsAnErrorNotACrash() throws {
    let file = try HDF5File(contentsOf: kerasFixtures.appendingPathComponent("damaged-links.h5"))
    var failures = 0
    func walk(_ path: String, depth: Int) {
      guard depth < 8 else { return }
      do {
        for (name, kind) in try file.members(of: path) where kind == .group {
          walk(path.isEmpty ? name : path + "/" + name, depth: depth + 1)
        }
      } catch {
        #expect(error is HDF5Error)
        failures += 1
      }
    }
    walk("", depth: 0)
    #expect(failures > 0)
    let weights = try HDF5File(contentsOf: kerasFixtures.appendingPathComponent("mlp.weights.h5"))
    let names = try weights.members(of: "layers").map(\.name)
    #expect(names.count >= 3, "\(names)")
    #expect(names == names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
  }
}

extension HDF5Tests {
  /// Fuzzed files whose global heap (where variable-length strings such as Keras'
  /// model_config live) is damaged: libhdf5 1.10 looped forever on one and copied past the
  /// collection on the other. Both are refused before libhdf5 reads them, naming the
  /// collection; every well-formed fixture still opens.
  @Test func damagedGlobalHeapsAreRefused() throws {
    for name in ["damaged-heap-loop.h5", "damaged-heap-size.h5"] {
      #expect("\(name)") {
        try HDF5File(contentsOf: kerasFixtures.appendingPathComponent(name))
      } throws: { error in
        error is HDF5Error && "\(error)".contains("global heap collection at byte")
      }
    }
    let fixtures = try FileManager.default.contentsOfDirectory(atPath: kerasFixtures.path)
      .filter { $0.hasSuffix(".h5") && !$0.hasPrefix("damaged-") }
    #expect(fixtures.count >= 8)
    for name in fixtures {
      let file = try HDF5File(contentsOf: kerasFixtures.appendingPathComponent(name))
      _ = try file.stringAttribute("keras_version", of: "/")
    }
  }
}
