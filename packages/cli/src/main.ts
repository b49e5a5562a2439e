/**
 * The `tessera` command (CONTRACT §8): an admin client of a running Tessera, on @effect/cli. Exit status: 0 success,
 * 1 a refusal (the server's error and description on stderr, or no server, or no credential), 2 bad usage.
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Cause, Console, Effect, Exit, Layer } from "effect"
import * as AuditTail from "./AuditTail.js"
import * as Commands from "./Commands.js"
import { exitRefused, exitUsage, Refused, Usage } from "./Failure.js"
import * as Login from "./Login.js"
import * as Output from "./Output.js"

// a reader that went away (`tessera audit tail -f | head -1`) ends the command quietly, as it does for other tools
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode === undefined ? 0 : Number(process.exitCode))
  throw error
})

const args = process.argv.slice(2)
// only the noun asked for is built in full (start-up time); shell completion needs every command
const expand = args.includes("--completions") ? () => true : (noun: string) => args.includes(noun)

type AnyCommand = Command.Command<string, never, any, any>

const subcommands = [...Commands.nounCommands({ audit: () => [AuditTail.command()] }, expand), ...Login.commands] as ReadonlyArray<AnyCommand>

const tessera = Command.make("tessera").pipe(
  Command.withDescription("Administer a running Tessera (TESSERA_URL, default http://localhost:8080)"),
  Command.withSubcommands(subcommands as [AnyCommand, ...Array<AnyCommand>])
)

const cli = Command.run(tessera, { name: "tessera", version: "0.0.0" })

const message = (failure: unknown) =>
  typeof (failure as { message?: unknown })?.message === "string" ? (failure as { message: string }).message : String(failure)

/** Says why on stderr and sets the exit status (@effect/cli has already printed what a usage error is). */
const report = (failure: unknown) =>
  Effect.zipRight(
    failure instanceof Refused
      ? Console.error(`tessera: ${failure.error !== undefined ? `${Output.safe(failure.error)}: ` : ""}${Output.safe(failure.description)}`)
      : failure instanceof Usage
      ? Console.error(`tessera: ${Output.safe(failure.description)}`)
      : ValidationError.isValidationError(failure)
      ? Effect.void
      : Console.error(`tessera: ${Output.safe(message(failure))}`),
    Effect.sync(() => {
      process.exitCode = failure instanceof Usage || ValidationError.isValidationError(failure) ? exitUsage : exitRefused
    })
  )

const program = cli(process.argv).pipe(
  Effect.catchAll(report),
  Effect.catchAllDefect((defect) => report(new Refused({ description: `unexpected failure: ${message(defect)}` }))),
  Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer))
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  // the status is set by `report`; an interruption (Ctrl-C) is 130, unless the command made it its normal end
  // (`audit tail --follow` sets 0)
  teardown: (exit, onExit) =>
    onExit(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) ? Number(process.exitCode ?? 130) : 0)
})
