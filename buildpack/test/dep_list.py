"""Prints the dependency list that `cargo auditable` embedded in an ELF binary, one "name version"
per line: the `.dep-v0` section, zlib-compressed JSON. Reads the section table itself, so it works
on a binary of any architecture (binutils' objcopy knows only this machine's). Exits 1 when the
binary carries no list."""
import json
import struct
import sys
import zlib


def section(data, wanted):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        sys.exit("not a 64-bit little-endian ELF file")
    (table,) = struct.unpack_from("<Q", data, 0x28)
    entry_size, count, names_index = struct.unpack_from("<HHH", data, 0x3A)

    def header(i):
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, ...
        return struct.unpack_from("<IIQQQQ", data, table + i * entry_size)

    names_offset = header(names_index)[4]
    for i in range(count):
        name_at, _, _, _, offset, size = header(i)
        start = names_offset + name_at
        if data[start : data.index(b"\0", start)] == wanted:
            return data[offset : offset + size]
    return None


with open(sys.argv[1], "rb") as binary:
    embedded = section(binary.read(), b".dep-v0")
if embedded is None:
    sys.exit("no .dep-v0 section: not built with cargo auditable")
for package in json.loads(zlib.decompress(embedded))["packages"]:
    print(package["name"], package["version"])
