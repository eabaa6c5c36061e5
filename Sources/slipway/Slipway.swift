import ArgumentParser
import SlipwayCore

@main
struct Slipway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slipway",
        abstract: "Zero-downtime deploys, instant rollbacks.",
        discussion: """
            Exit codes: 0 success; 1 the operation failed (a rollout failed or was rolled back, \
            the config is invalid, the server refused the request); 2 `plan`: there are changes, \
            `deploy --wait --timeout`: the rollout is still running; 3 the server cannot be reached; \
            64 the command line is wrong.
            """,
        version: SlipwayVersion.current,
        subcommands: [
            ServerCommand.self, DeployCommand.self, RollbackCommand.self, StatusCommand.self,
            HistoryCommand.self, LogsCommand.self, ApplyCommand.self, ValidateCommand.self,
            PromoteCommand.self, PauseCommand.self, ResumeCommand.self, AbortCommand.self, RetryCommand.self, WhyCommand.self,
            TokenCommand.self, LoginCommand.self, WhoAmICommand.self, AuditCommand.self, SecretsCommand.self,
            SchemaCommand.self, OpenAPICommand.self, DownCommand.self, RouterCommand.self, ScanCommand.self, EvidenceCommand.self,
            ConfigCommand.self, ReleaseCommand.self, GateCommand.self, ApproveCommand.self, RejectCommand.self, ReportCommand.self, BackupCommand.self, RestoreCommand.self,
            NotificationsCommand.self, AlertsCommand.self, BackupsCommand.self, ServersCommand.self, VersionCommand.self, RunbookCommand.self, DoctorCommand.self, PlanCommand.self, ReferenceCommand.self,
        ]
    )
}
