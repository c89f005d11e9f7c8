"""Run gcp-storage-emulator (`python tests/gcs_emulator.py start --port P ...`, same arguments as its CLI).

One addition: media downloads carry the `x-goog-generation` / `x-goog-metageneration` headers that the
real GCS API sends with every object read. The emulator leaves them out, and tensorstore (orbax's array
I/O) rejects a read without them ("Malformed StorageGeneration") once an OCDBT manifest is re-read.
"""

from __future__ import annotations

import sys

from gcp_storage_emulator.handlers import objects

_download = objects.download


def _download_with_generation(request, response, storage, *args, **kwargs):
    _download(request, response, storage, *args, **kwargs)
    try:
        obj = storage.get_file_obj(request.params["bucket_name"], request.params["object_id"])
    except Exception:  # noqa: BLE001 - not found: the original handler already answered 404
        return
    response["x-goog-generation"] = str(obj.get("generation") or 1)
    response["x-goog-metageneration"] = str(obj.get("metageneration") or 1)


objects.download = _download_with_generation  # before the server module builds its routing table

from gcp_storage_emulator.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
