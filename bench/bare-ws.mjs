// The yardstick of bench/groups.mjs: a bare `ws` server, in its own process on the port given by
// PORT, that broadcasts each frame its sender (the socket on /send) sends to every other open
// socket, as ws's own broadcast example does. No parsing, no storage: the fan-out alone.
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const receivers = new Set();
  const server = new WebSocketServer({ port: Number(process.env.PORT), host: '127.0.0.1' });
  server.on('connection', (socket, request) => {
    if (request.url === '/send') {
      socket.on('message', (data, isBinary) => {
        for (const receiver of receivers) receiver.send(data, { binary: isBinary });
      });
      return;
    }
    receivers.add(socket);
    socket.on('close', () => receivers.delete(socket));
  });
  server.on('listening', () => process.stdout.write('ready\n'));
}
