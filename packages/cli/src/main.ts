/** The `tessera` command (CONTRACT §8): an admin client of a running Tessera, on @effect/cli. */
import * as Command from "@effect/cli/Command"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Effect, Layer } from "effect"
import * as Login from "./Login.js"

const tessera = Command.make("tessera").pipe(Command.withSubcommands([...Login.commands]))

const cli = Command.run(tessera, { name: "tessera", version: "0.0.0" })

cli(process.argv).pipe(Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)), NodeRuntime.runMain)
