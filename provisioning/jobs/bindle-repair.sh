#!/bin/sh
# Prestart task of the bindle job (bindle-repair.ts), run while bindle-server is not running:
# removes every parcel directory that an interrupted upload left without its data file, so the
# server takes that parcel again. Usage: bindle-repair.sh <store> (the server's --directory).
#
# deislabs/bindle v0.8.2 and v0.9.1, src/provider/file/mod.rs: `create_parcel` answers 409
# (ProviderError::Exists) whenever parcels/<sha256>/ is a directory; the data is
# parcels/<sha256>/parcel.dat, which only appears by renaming parcel.dat.part once its size and
# SHA-256 were verified (`PartFile::finalize`); a failed upload removes its .part (`Drop for
# PartFile`) and leaves the directory; a killed server leaves the .part too. A directory with
# parcel.dat is complete and is never touched. Never fails the allocation: a directory it cannot
# remove is reported and the server starts anyway.
set -eu

if [ "$#" -ne 1 ]; then
    echo "usage: bindle-repair.sh <bindle store directory>" >&2
    exit 2
fi
parcels="$1/parcels"
if [ ! -d "$parcels" ]; then
    echo "bindle-repair: no $parcels yet, nothing to repair"
    exit 0
fi

removed=0
complete=0
for dir in "$parcels"/*; do
    [ -d "$dir" ] || continue
    name=${dir##*/}
    case $name in
        *[!0-9a-f]*) continue ;;
    esac
    [ "${#name}" -eq 64 ] || continue
    if [ -f "$dir/parcel.dat" ]; then
        complete=$((complete + 1))
        continue
    fi
    # A part file written to within the last minute: an upload a stopping server may still finish.
    if [ -n "$(find "$dir" -name 'parcel.dat.part' -mmin -1)" ]; then
        echo "bindle-repair: kept parcels/$name (an upload is being written)"
        continue
    fi
    if rm -rf -- "$dir"; then
        echo "bindle-repair: removed parcels/$name (no parcel.dat: an interrupted upload)"
        removed=$((removed + 1))
    else
        echo "bindle-repair: could not remove parcels/$name" >&2
    fi
done
echo "bindle-repair: $removed removed, $complete complete"
