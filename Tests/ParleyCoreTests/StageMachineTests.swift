import ParleyCore
import Testing

/// The stage table of DESIGN §3, written out again independently of the implementation.
/// "→X" moves, "=" stays, "!" is refused, "+" starts a follow-up.
private let automaticTable: [Stage: [String]] = [
    //                customer  agent  deps   spam   note
    .new:            ["=",      "→waiting_on_user", "=", "→suspended", "="],
    .suspended:      ["=",      "!",    "=",   "=",   "="],
    .waitingOnUser:  ["→needs_response", "=", "=", "=", "="],
    .needsResponse:  ["=",      "→waiting_on_user", "=", "=", "="],
    .hold:           ["→needs_response", "=", "→needs_response", "=", "="],
    .resolved:       ["→needs_response", "=", "=", "=", "="],
    .archived:       ["+",      "!",    "=",   "=",   "="],
]

private let explicitAllowed: [Stage: Set<Stage>] = [
    .new: [.suspended, .resolved],
    .suspended: [.new, .archived],
    .waitingOnUser: [.resolved],
    .needsResponse: [.hold, .resolved],
    .hold: [.needsResponse, .resolved],
    .resolved: [.archived],
    .archived: [],
]

private func describe(_ outcome: StageOutcome) -> String {
    switch outcome {
    case .moveTo(let stage): "→\(stage.rawValue)"
    case .stay: "="
    case .refuse: "!"
    case .startFollowUp: "+"
    }
}

/// The auto-archive timer moves only a resolved conversation (to archived); in every other stage it does nothing.
private let archiveTimerColumn: [Stage: String] = [
    .new: "=", .suspended: "=", .waitingOnUser: "=", .needsResponse: "=", .hold: "=", .resolved: "→archived", .archived: "=",
]

@Suite("Stage machine table")
struct StageMachineTableTests {
    @Test("the archive timer in every stage", arguments: Stage.allCases)
    func archiveTimer(stage: Stage) {
        #expect(describe(StageMachine.outcome(of: .archiveTimerElapsed, in: stage)) == archiveTimerColumn[stage]!)
    }

    @Test("every automatic input in every stage", arguments: Stage.allCases)
    func automaticInputs(stage: Stage) {
        let inputs: [StageInput] = [.customerMessage, .agentPublicReply, .dependenciesDone, .spamVerdict, .internalNote]
        let expected = automaticTable[stage]!
        for (input, want) in zip(inputs, expected) {
            #expect(describe(StageMachine.outcome(of: input, in: stage)) == want, "\(stage) on \(input)")
        }
    }

    @Test("every explicit request in every stage", arguments: Stage.allCases)
    func explicitRequests(stage: Stage) {
        for target in Stage.allCases {
            let outcome = StageMachine.outcome(of: .explicit(target), in: stage)
            if explicitAllowed[stage]!.contains(target) {
                #expect(outcome == .moveTo(target), "\(stage) → \(target) should be allowed")
            } else {
                guard case .refuse(let reason) = outcome else {
                    Issue.record("\(stage) → \(target) should be refused, got \(outcome)")
                    continue
                }
                #expect(reason.contains(stage.rawValue), "the refusal names the current stage: \(reason)")
                for allowed in explicitAllowed[stage]! {
                    #expect(reason.contains(allowed.rawValue), "the refusal names allowed stage \(allowed): \(reason)")
                }
            }
        }
        #expect(Set(StageMachine.allowedNextStages(from: stage)) == explicitAllowed[stage]!)
    }

    @Test("internal notes never move a stage")
    func notesNeverMove() {
        for stage in Stage.allCases {
            #expect(StageMachine.outcome(of: .internalNote, in: stage) == .stay)
        }
    }

    @Test("stage categories")
    func categories() {
        #expect(Stage.new.state == .open && Stage.suspended.state == .open)
        #expect([Stage.waitingOnUser, .needsResponse, .hold].allSatisfy { $0.state == .inProgress })
        #expect(Stage.resolved.state == .closed && Stage.archived.state == .closed)
        #expect(Stage.allCases.map(\.rawValue) == ["new", "suspended", "waiting_on_user", "needs_response", "hold", "resolved", "archived"])
    }
}
