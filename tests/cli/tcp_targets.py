"""The TCP targets the CLI tests share: listeners on 127.0.0.1, a thread per connection."""

import socket
import threading


class TcpTarget:
    """Accepts on 127.0.0.1 and gives each connection to `handle` (in a thread of its own);
    counts the connections. A subclass sets what `handle` needs before calling __init__."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def handle(self, conn):
        raise NotImplementedError

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def close(self):
        self.listener.close()


class EchoTarget(TcpTarget):
    """Echoes every connection until its peer closes."""

    def handle(self, conn):
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass
