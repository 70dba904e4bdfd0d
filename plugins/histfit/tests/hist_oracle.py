"""Oracle for tests/hist.rs: flow records from flow-models 2.2's own generator and writers,
and flow-models' `hist` output for every case (docs/histfit.md, "hist").

    python hist_oracle.py OUT_DIR FLOWS SEED
    python hist_oracle.py OUT_DIR PACKETS SEED nfcapd

The nfcapd form writes a pcap of PACKETS random TCP/UDP packets, turns it into nfcapd files
with nfdump's `nfpcapd -r PCAP -w OUT_DIR/nfc`, and runs flow-models' `hist -i nfcapd` (which
runs `nfdump -r FILE -q -o pipe`) on them.

Writes OUT_DIR/flows.csv (csv_flow, flow-models' write_flow_csv), OUT_DIR/part1.csv and
part2.csv (the same records split), OUT_DIR/flows.pipe (nfdump `-o pipe` lines),
OUT_DIR/bin, OUT_DIR/bin1, OUT_DIR/bin2 (flow-models' write_flow_binary), and for each case
OUT_DIR/expected/<case>.csv plus OUT_DIR/cases.json: [{"name", "settings", "expected"}], the
settings being flowlab's `hist` settings of the same run.

packets and octets come from flow_models.generate (a mixture written here, seeded); the other
fields (protocol, ports, addresses, times, aggs) from random.Random(SEED), because generate
leaves them 0 and duration, rate and the filter need them. A few records have huge octets (the
exact-division path of rate), one packet (duration 0) or last < first (negative duration).
"""
import json
import pathlib
import random
import struct
import subprocess
import sys

from flow_models.generate import generate_flows
from flow_models.hist import hist
from flow_models.lib.io import prepare_file_list, write_flow_binary, write_flow_csv

out = pathlib.Path(sys.argv[1])
n = int(sys.argv[2])
seed = int(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
(out / 'expected').mkdir(exist_ok=True)

cases = []


def case(name, fmt, inputs, x='length', b=0, columns=(), filt=None, skip_in=0, count_in=None, skip_out=0, count_out=None, out_format='csv_hist'):
    if fmt == 'pipe':
        files = [open(out / i, 'rb') for i in inputs]  # flow-models' read_pipe splits bytes lines
    elif fmt == 'binary':
        files = [out / i for i in inputs]
    else:
        files = prepare_file_list([str(out / i) for i in inputs])
    code = compile(filt, f'FILTER: {filt}', 'eval') if filt else None
    expected = out / 'expected' / f'{name}.csv'
    target = [] if out_format == 'append' else expected
    hist(files, target, fmt, out_format, skip_in, count_in, skip_out, count_out, code, b, x, list(columns))
    if out_format == 'append':
        expected.write_text(''.join(line + '\n' for line in target))
    settings = {'inputs': [str(out / i) for i in inputs], 'in_format': fmt, 'x': x, 'bin_exp': b, 'columns': list(columns),
                'skip_in': skip_in, 'skip_out': skip_out, 'out_format': out_format}
    if count_in is not None:
        settings['count_in'] = count_in
    if count_out is not None:
        settings['count_out'] = count_out
    if filt:
        settings['filter'] = filt
    cases.append({'name': name, 'settings': settings, 'expected': str(expected)})



def pcap(path, packets):
    """A pcap (Ethernet, IPv4) of random TCP/UDP packets among a few hundred 5-tuples."""
    def pkt(t, src, dst, sp, dp, proto, payload):
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + (20 if proto == 6 else 8) + payload, 1, 0, 64, proto, 0, bytes(src), bytes(dst))
        l4 = struct.pack('!HHIIBBHHH', sp, dp, 1, 0, 0x50, 0x18, 1000, 0, 0) if proto == 6 else struct.pack('!HHHH', sp, dp, 8 + payload, 0)
        data = b'\x00' * 12 + b'\x08\x00' + ip + l4 + b'x' * payload
        return struct.pack('<IIII', int(t), int((t - int(t)) * 1e6), len(data), len(data)) + data
    rng = random.Random(seed)
    tuples = [([10, 0, rng.randrange(4), rng.randrange(1, 255)], [192, 168, 0, rng.randrange(1, 255)], rng.randrange(1024, 65536),
               rng.choice([443, 80, 53, 8080]), rng.choice([6, 6, 17])) for _ in range(300)]
    t = 1425168000.0
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for _ in range(packets):
            t += rng.expovariate(50.0)
            src, dst, sp, dp, proto = rng.choice(tuples)
            f.write(pkt(t, src, dst, sp, dp, proto, rng.randrange(0, 1400)))


ALL = ('duration', 'rate', 'aggs')
if len(sys.argv) > 4 and sys.argv[4] == 'nfcapd':
    pcap(out / 't.pcap', n)
    (out / 'nfc').mkdir(exist_ok=True)
    subprocess.run(['nfpcapd', '-r', str(out / 't.pcap'), '-w', str(out / 'nfc')], check=True, capture_output=True)
    for x in ['length', 'size', 'duration', 'rate']:
        for b in [0, 12]:
            case(f'nfcapd-{x}-b{b}', 'nfcapd', ['nfc'], x, b, ALL)
    case('nfcapd-filter', 'nfcapd', ['nfc'], 'size', 12, ALL, '(prot == 6) & (dp == 443) | (sp < 2000)')
    # no count_in/count_out here: flow-models stops reading nfdump's pipe and then waits for it,
    # which deadlocks once nfdump has more than a pipe buffer (64 KiB) left to write
    case('nfcapd-cut', 'nfcapd', ['nfc'], 'length', 0, ALL, 'prot == 17', skip_in=3, skip_out=2)
    json.dump(cases, open(out / 'cases.json', 'w'), indent=1)
    sys.exit(0)

mix = out / 'mixture'
mix.mkdir(exist_ok=True)
json.dump({'sum': 1000000, 'mix': [[0.35, 'uniform', [0, 1]], [0.2, 'uniform', [0, 2]], [0.1, 'uniform', [0, 3]],
                                   [0.25, 'lognorm', [0.6, 0, 8.0]], [0.1, 'lognorm', [1.8, 0, 90.0]]]}, open(mix / 'flows.json', 'w'))
json.dump({'sum': 20000000, 'mix': [[0.05, 'uniform', [0, 1]], [0.05, 'uniform', [0, 2]],
                                    [0.4, 'lognorm', [0.9, 0, 20.0]], [0.5, 'lognorm', [1.7, 0, 900.0]]]}, open(mix / 'packets.json', 'w'))
json.dump({'sum': 15000000000, 'mix': [[0.02, 'uniform', [0, 1]], [0.03, 'uniform', [0, 2]],
                                       [0.35, 'lognorm', [0.9, 0, 25.0]], [0.6, 'lognorm', [1.6, 0, 1200.0]]]}, open(mix / 'octets.json', 'w'))

rng = random.Random(seed)
records = []
for f in generate_flows(str(mix), n, 'length', seed):
    packets, octets = f[18], f[19]
    first, first_ms = 1425168000 + rng.randrange(86400), rng.randrange(1000)
    u = rng.random()
    if u < 0.01:
        d = -rng.randrange(1, 5000)  # last before first
    elif u < 0.05:
        d = 0
    else:
        d = int(rng.expovariate(1 / 20000))
    last, last_ms = divmod(first * 1000 + first_ms + d, 1000)
    if rng.random() < 0.002:
        octets = 2 ** rng.randrange(44, 60) + rng.getrandbits(40)
    prot = rng.choice([6, 6, 6, 17, 17, 1])
    sp = rng.choice([443, 80, 53, rng.randrange(1024, 65536)])
    dp = rng.choice([443, 80, 53, rng.randrange(1024, 65536)])
    records.append((4, prot, rng.randrange(4), rng.randrange(4), 0, 0, 0, rng.getrandbits(32), 0, 0, 0, rng.getrandbits(32),
                    sp, dp, first, first_ms, last, last_ms, packets, octets, rng.randrange(1, 4)))


def write(writer, path, recs):
    w = writer(path)
    next(w)
    for r in recs:
        w.send(r)
    w.close()


def write_csv(path, recs):
    write(write_flow_csv, path, recs)


def write_bin(path, recs):
    write(write_flow_binary, path, recs)


half = len(records) // 2 + 7
write_csv(out / 'flows.csv', records)
write_csv(out / 'part1.csv', records[:half])
write_csv(out / 'part2.csv', records[half:])
write_bin(out / 'bin', records)
write_bin(out / 'bin1', records[:half])
write_bin(out / 'bin2', records[half:])
with open(out / 'flows.pipe', 'w') as p:
    for (af, prot, inif, outif, sa0, sa1, sa2, sa3, da0, da1, da2, da3, sp, dp, first, first_ms, last, last_ms, packets, octets, aggs) in records:
        p.write(f'{af}|{first * 1000 + first_ms}|{last * 1000 + last_ms}|{prot}|{sa0}|{sa1}|{sa2}|{sa3}|{sp}|'
                f'{da0}|{da1}|{da2}|{da3}|{dp}|0|0|{inif}|{outif}|0|0|{packets}|{octets}\n')

for fmt, inp in [('csv_flow', ['flows.csv']), ('pipe', ['flows.pipe']), ('binary', ['bin'])]:
    for x in ['length', 'size', 'duration', 'rate']:
        for b in [0, 12]:
            case(f'{fmt}-{x}-b{b}', fmt, inp, x, b, ALL)
    case(f'{fmt}-rate-b3', fmt, inp, 'rate', 3, ('rate', 'packets'))
    case(f'{fmt}-filter', fmt, inp, 'size', 12, ALL, '(prot == 6) & (packets > 2)')
    case(f'{fmt}-filter-not', fmt, inp, 'length', 0, ('flows',), '~(prot == 17) | (dp == 53)')
    case(f'{fmt}-cut', fmt, inp, 'length', 12, ALL, '(prot != 1)', skip_in=101, count_in=n // 2, skip_out=57, count_out=n // 3)
    case(f'{fmt}-duration-nocols', fmt, inp, 'duration', 12)
for fmt in ['csv_flow', 'pipe']:
    inp = ['flows.csv'] if fmt == 'csv_flow' else ['flows.pipe']
    # Python semantics: `&` binds tighter than `==` (a chained comparison), `~True` is -2 (true)
    case(f'{fmt}-filter-chained', fmt, inp, 'length', 0, (), 'prot == 6 & sp == 443')
    case(f'{fmt}-filter-logic', fmt, inp, 'size', 12, ('rate',), 'packets >= 3 and not prot == 1 or octets > 100000')
    case(f'{fmt}-filter-invert', fmt, inp, 'length', 12, (), '~(prot == 17)')
# several inputs share the counters; binary's skip_in arithmetic re-skips in the second directory
case('csv_flow-two-files', 'csv_flow', ['part1.csv', 'part2.csv'], 'length', 12, ALL, skip_in=half - 5, count_in=n // 2)
case('binary-two-dirs', 'binary', ['bin1', 'bin2'], 'length', 12, ALL, skip_in=half // 2 + 3)
case('binary-two-dirs-count', 'binary', ['bin1', 'bin2'], 'size', 0, ALL, count_in=half + 11)
case('csv_flow-append', 'csv_flow', ['flows.csv'], 'length', 12, ('aggs',), out_format='append')
# flow-models 2.2's `-o none` raises (write_none() takes 1 positional argument): no oracle
json.dump(cases, open(out / 'cases.json', 'w'), indent=1)
