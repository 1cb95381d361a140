import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

@main
struct Puma: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "puma",
        abstract: "Private LLaMA inference: text generation inside a three-party MPC engine.",
        subcommands: [GenerateCommand.self, EvalCommand.self, InspectCommand.self, TokenizeCommand.self, BenchCommand.self, MakeModelCommand.self,
                      DeployCommand.self, PartyCommand.self, OwnerCommand.self],
        defaultSubcommand: GenerateCommand.self
    )

    static func main() {
        // A reader that goes away (`puma … | head`) then shows as EPIPE, reported by `Console`.
        signal(SIGPIPE, SIG_IGN)
        // A parent may have left SIGTERM, SIGINT or SIGHUP blocked (test runners do): the parties'
        // shutdown and the default Ctrl-C must work whoever started us.
        var stopping = sigset_t()
        sigemptyset(&stopping)
        for s in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&stopping, s) }
        pthread_sigmask(SIG_UNBLOCK, &stopping, nil)
        main(nil)
    }
}
