// A database client's connect, reduced to what the seed stories need: open a socket and wait for
// the server's greeting. Against `silentTcpServer()` the greeting never comes.
import { connect, type Socket } from 'node:net';

/** Connects and waits for the server's greeting, as a database driver does. Stops on `signal`. */
export function connectDb(port: number, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const cleanup = () => {
      signal?.removeEventListener('abort', onAbort);
      socket.off('data', onData);
    };
    const onAbort = () => {
      cleanup();
      socket.destroy();
      reject(signal!.reason);
    };
    const onData = () => {
      cleanup();
      resolve(socket);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('data', onData); // the greeting never comes
    socket.once('error', (error) => {
      cleanup();
      reject(error);
    });
  });
}
