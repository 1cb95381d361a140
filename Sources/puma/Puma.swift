import ArgumentParser

@main
struct Puma: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "puma",
        abstract: "Private LLaMA inference: text generation inside a three-party MPC engine.",
        subcommands: [GenerateCommand.self, InspectCommand.self, BenchCommand.self, MakeModelCommand.self],
        defaultSubcommand: GenerateCommand.self
    )
}
