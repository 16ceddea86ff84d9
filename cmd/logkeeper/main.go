// Command logkeeper archives logs to S3 or a local folder with a signed,
// hash-chained chain of custody, and verifies such archives.
//
// Run "logkeeper --help" for the commands and "logkeeper COMMAND --help"
// for a command's flags and an example.
//
// This package only wires: flags, signals, configuration and exit codes.
// The command-line convention (global flags, help, exit codes, output) is
// package cli; the work is done in the export, custody and service
// packages.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/service/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// logkeeper is the program: every command, in the order of its help.
func logkeeper() *cli.App {
	return &cli.App{
		Name:    "logkeeper",
		Summary: "archives logs with a signed, hash-chained chain of custody",
		Version: app.Version,
		Commands: []*cli.Command{
			exportCommand(),
			verifyCommand(),
			checkpointCommand(),
			bundleCommand(),
			verifyBundleCommand(),
			holdPlaceCommand(),
			holdReleaseCommand(),
			holdListCommand(),
			custodyLogCommand(),
			reportCommand(),
			policyCheckCommand(),
			policyRenderCommand(),
			runCommand(),
			configCheckCommand(),
			keysGenerateCommand(),
			keysPublicCommand(),
			keysRotateCommand(),
			versionCommand(),
		},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return logkeeper().Run(ctx, args, stdout, stderr)
}
