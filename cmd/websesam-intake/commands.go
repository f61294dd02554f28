package main

// The root's subcommands, one file each, listed once here; cobra shows them
// sorted by name whatever the order.
func init() {
	subcommands = append(subcommands, newAuditCommand, newBackupCommand, newConfigCommand, newDemoCommand,
		newDoctorCommand, newFormCommand, newMessagesCommand, newOutboxCommand, newParseCommand, newPurgeCommand,
		newQueueCommand, newRegisterCommand, newReportCommand, newReviewCommand, newServeCommand, newStatusCommand)
}
