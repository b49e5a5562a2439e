import * as Net from "node:net"
import { Effect } from "effect"

/** A TCP proxy to the server that can be cut (every socket destroyed, new ones refused) and restored. */
export const proxyTo = (target: URL) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly cut: Effect.Effect<void>; readonly restore: Effect.Effect<void>; readonly server: Net.Server }>(
      (resume) => {
        const sockets = new Set<Net.Socket>()
        let refusing = false
        const track = (socket: Net.Socket) => {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
        }
        const server = Net.createServer((downstream) => {
          if (refusing) return downstream.destroy()
          const upstream = Net.connect(Number(target.port || 5432), target.hostname)
          track(downstream)
          track(upstream)
          downstream.on("error", () => upstream.destroy())
          upstream.on("error", () => downstream.destroy())
          downstream.on("close", () => upstream.destroy())
          upstream.on("close", () => downstream.destroy())
          downstream.pipe(upstream).pipe(downstream)
        })
        server.listen(0, "127.0.0.1", () => {
          const proxied = new URL(target)
          proxied.hostname = "127.0.0.1"
          proxied.port = String((server.address() as Net.AddressInfo).port)
          resume(Effect.succeed({
            url: proxied.toString(),
            server,
            cut: Effect.sync(() => {
              refusing = true
              for (const socket of sockets) socket.destroy()
            }),
            restore: Effect.sync(() => {
              refusing = false
            })
          }))
        })
      }
    ),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  )

/** A listening socket that accepts connections and never says a word (a firewall that drops, a hung server). */
export const silentServer = Effect.acquireRelease(
  Effect.async<{ readonly port: number; readonly server: Net.Server; readonly sockets: Set<Net.Socket> }>((resume) => {
    const sockets = new Set<Net.Socket>()
    const server = Net.createServer((socket) => {
      sockets.add(socket)
      socket.on("error", () => undefined)
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ port: (server.address() as Net.AddressInfo).port, server, sockets })))
  }),
  ({ server, sockets }) =>
    Effect.async<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
)
