import PlexusCommands
import Testing

@Suite struct ProgressFormatTests {
  @Test func durations() {
    #expect(ProgressFormat.duration(0) == "0:00")
    #expect(ProgressFormat.duration(7.4) == "0:07")
    #expect(ProgressFormat.duration(65) == "1:05")
    #expect(ProgressFormat.duration(3723) == "1:02:03")
    #expect(ProgressFormat.duration(nil) == "--:--")
    #expect(ProgressFormat.duration(-1) == "--:--")
    #expect(ProgressFormat.duration(.infinity) == "--:--")
    #expect(ProgressFormat.shortDuration(0.25) == "250ms")
    #expect(ProgressFormat.shortDuration(12.34) == "12.3s")
    #expect(ProgressFormat.shortDuration(125) == "2:05")
  }

  @Test func etaAssumesTheAverageSpeedSoFar() {
    #expect(ProgressFormat.eta(completed: 25, total: 100, elapsed: 5) == 15)
    #expect(ProgressFormat.eta(completed: 100, total: 100, elapsed: 5) == 0)
    #expect(ProgressFormat.eta(completed: 0, total: 100, elapsed: 5) == nil)
    #expect(ProgressFormat.eta(completed: 10, total: 100, elapsed: 0) == nil)
  }

  @Test func speeds() {
    #expect(ProgressFormat.speed(samples: 1000, elapsed: 0.5) == 2000)
    #expect(ProgressFormat.speed(samples: 1000, elapsed: 0) == nil)
    #expect(ProgressFormat.speed(850.4) == "850 samples/s")
    #expect(ProgressFormat.speed(12_345) == "12.3k samples/s")
    #expect(ProgressFormat.speed(4_560_000) == "4.56M samples/s")
    #expect(ProgressFormat.speed(nil) == "-- samples/s")
  }

  @Test func barsAndNumbers() {
    #expect(ProgressFormat.bar(fraction: 0, width: 12) == "[          ]")
    #expect(ProgressFormat.bar(fraction: 0.5, width: 12) == "[=====>    ]")
    #expect(ProgressFormat.bar(fraction: 0.999, width: 12) == "[=========>]")
    #expect(ProgressFormat.bar(fraction: 1, width: 12) == "[==========]")
    #expect(ProgressFormat.bar(fraction: 7, width: 6) == "[====]")
    #expect(ProgressFormat.counter(3, of: 20) == " 3/20")
    #expect(ProgressFormat.percent(0.97123) == "97.12%")
    #expect(ProgressFormat.loss(0.123456) == "0.1235")
    #expect(ProgressFormat.loss(0.0000123) == "1.230e-05")
  }

  @Test func liveLine() {
    let state = ProgressState(
      epoch: 2, epochs: 10, batch: 28, batches: 56, loss: 0.25, accuracy: 0.9, epochSamples: 896,
      epochElapsed: 0.5, totalElapsed: 2.1)
    // 84 of 560 batches took 2.1 s: 476 batches left at 0.025 s each is 11.9 s.
    #expect(
      ProgressFormat.progressLine(state, barWidth: 12)
        == "epoch  2/10  [=====>    ] 28/56  loss 0.2500  acc 90.00%  1792 samples/s  ETA 0:12")
  }

  @Test func liveLineFitsTheTerminal() {
    let state = ProgressState(
      epoch: 2, epochs: 10, batch: 28, batches: 56, loss: 0.25, accuracy: 0.9, epochSamples: 896,
      epochElapsed: 0.5, totalElapsed: 2.1)
    let full = ProgressFormat.progressLine(state)
    #expect(ProgressFormat.fittedProgressLine(state, columns: nil) == full)
    #expect(ProgressFormat.fittedProgressLine(state, columns: 200) == full)
    for columns in [90, 70, 40, 10] {
      let line = ProgressFormat.fittedProgressLine(state, columns: columns)
      #expect(line.count <= columns - 1, "\(columns): \(line)")
    }
    // The bar shrinks before anything is cut.
    let seventy = ProgressFormat.fittedProgressLine(state, columns: 70)
    #expect(
      seventy.hasSuffix(full.split(separator: " ").last.map(String.init) ?? "")
        || seventy.count == 69)
    #expect(seventy.hasPrefix("epoch  2/10  ["))
  }

  @Test func aNarrowTerminalGetsLiveLinesThatFit() {
    let console = CapturedOutput(isTerminal: true, columns: 50)
    var now = 0.0
    let display = ProgressDisplay(console: console, quiet: false, clock: { now })
    display.trainingBegan(epochs: 1, batchesPerEpoch: 3)
    display.epochBegan(1)
    for batch in 1...3 {
      now += 1
      display.batchEnded(batch, samples: batch * 32, loss: 0.5, accuracy: 0.75)
    }
    let live = console.text.split(separator: "\r").map {
      $0.replacingOccurrences(of: "\u{1B}[K", with: "")
    }.filter { !$0.isEmpty }
    #expect(!live.isEmpty)
    #expect(live.allSatisfy { $0.count <= 49 }, "\(live)")
  }

  @Test func epochLine() {
    let summary = EpochSummary(
      epoch: 3, epochs: 20, loss: 0.1, accuracy: 0.955, validationLoss: 0.2,
      validationAccuracy: 0.93,
      samples: 1_500, elapsed: 0.125)
    #expect(
      ProgressFormat.epochLine(summary)
        == "epoch  3/20  loss 0.1000  accuracy 95.50%  val_loss 0.2000  val_accuracy 93.00%  12.0k samples/s  125ms"
    )
    let plain = EpochSummary(epoch: 1, epochs: 1, loss: 2, samples: 10, elapsed: 2)
    #expect(ProgressFormat.epochLine(plain) == "epoch 1/1  loss 2.0000  5 samples/s  2.0s")
    // Further logs (a VAE's ELBO and KL term) follow by name, alphabetically.
    let vae = EpochSummary(
      epoch: 1, epochs: 1, loss: 22.5, otherLogs: ["kl": 4.25, "elbo": -22.5], samples: 10,
      elapsed: 2)
    #expect(
      ProgressFormat.epochLine(vae)
        == "epoch 1/1  loss 22.5000  elbo -22.5000  kl 4.2500  5 samples/s  2.0s")
  }
}

/// A clock that a test moves by hand.
private final class ManualClock {
  var now = 100.0
}

@Suite struct ProgressDisplayTests {
  private func run(_ display: ProgressDisplay, clock: ManualClock) {
    display.trainingBegan(epochs: 2, batchesPerEpoch: 3)
    for epoch in 1...2 {
      display.epochBegan(epoch)
      for batch in 1...3 {
        clock.now += 0.5
        display.batchEnded(batch, samples: 10 * batch, loss: 1, accuracy: 0.5)
      }
      display.epochEnded()
    }
  }

  @Test func logsPrintOneLinePerEpoch() {
    let console = CapturedOutput(isTerminal: false)
    let clock = ManualClock()
    let display = ProgressDisplay(console: console, clock: { clock.now })
    #expect(display.mode == .epochs)
    run(display, clock: clock)
    #expect(
      console.text == """
        epoch 1/2  loss 1.0000  accuracy 50.00%  20 samples/s  1.5s
        epoch 2/2  loss 1.0000  accuracy 50.00%  20 samples/s  1.5s

        """)
  }

  @Test func terminalsRedrawALiveLine() {
    let console = CapturedOutput(isTerminal: true)
    let clock = ManualClock()
    let display = ProgressDisplay(console: console, clock: { clock.now })
    #expect(display.mode == .live)
    run(display, clock: clock)
    let lines = console.text.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines.count == 3)
    #expect(
      lines[0].hasPrefix(
        "\repoch 1/2  [======>             ] 1/3  loss 1.0000  acc 50.00%  20 samples/s  ETA 0:03"))
    #expect(
      lines[0].hasSuffix("\repoch 1/2  loss 1.0000  accuracy 50.00%  20 samples/s  1.5s\u{1B}[K"))
    #expect(lines[1].contains("ETA 0:00"))
    #expect(lines[2].isEmpty)
  }

  @Test func quietPrintsNothing() {
    let console = CapturedOutput(isTerminal: true)
    let clock = ManualClock()
    let display = ProgressDisplay(console: console, quiet: true, clock: { clock.now })
    run(display, clock: clock)
    #expect(console.text.isEmpty)
  }
}
