"""A DNS server for tests: answers A queries for one name with one address
(NXDOMAIN for any other), over UDP on ADDRESS:53, and counts the queries
it got in COUNT_FILE. Usage: dns_server.py ADDRESS NAME IPV4 COUNT_FILE"""
import socket, struct, sys

address, name, ipv4, count_file = sys.argv[1], sys.argv[2].lower().rstrip("."), sys.argv[3], sys.argv[4]
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind((address, 53))
print("ready", flush=True)
count = 0


def question_name(packet):
    labels, at = [], 12
    while packet[at]:
        length = packet[at]
        labels.append(packet[at + 1:at + 1 + length].decode("ascii", "replace"))
        at += 1 + length
    return ".".join(labels).lower(), at + 5  # the zero byte, QTYPE, QCLASS


while True:
    packet, peer = server.recvfrom(512)
    if len(packet) < 17:
        continue
    count += 1
    with open(count_file, "w") as out:
        out.write(f"{count}\n")
    asked, end = question_name(packet)
    qtype = struct.unpack(">H", packet[end - 4:end - 2])[0]
    found = asked == name and qtype == 1
    flags = 0x8180 if asked == name else 0x8183  # a response; NXDOMAIN for other names
    header = struct.pack(">HHHHHH", struct.unpack(">H", packet[:2])[0], flags, 1, 1 if found else 0, 0, 0)
    answer = b""
    if found:
        answer = struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(ipv4)
    server.sendto(header + packet[12:end] + answer, peer)
