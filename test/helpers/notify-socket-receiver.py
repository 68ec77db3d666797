# A fake systemd notify socket for tests (test/helpers/notify-socket.ts): binds a unix DATAGRAM socket at
# argv[1] (a path, or "@name" for an abstract one) and prints one JSON line per datagram received:
# {"t": epoch ms, "msg": text}. Prints {"listening": true} first. Passed file descriptors (the
# BARRIER=1 pipe of systemd-notify) are dropped on receipt, which closes them, as systemd does.
import json, socket, sys, time

path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(('\0' + path[1:]) if path.startswith('@') else path)
print(json.dumps({"listening": True}), flush=True)
while True:
    data = s.recv(65536)
    print(json.dumps({"t": time.time() * 1000, "msg": data.decode('utf-8', 'replace')}), flush=True)
