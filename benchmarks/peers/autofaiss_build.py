"""Runs INSIDE the autofaiss venv (not xmodal's): builds autofaiss's own
choice of index for the .npy vectors in a folder under a memory budget and
writes what it chose as JSON. Deliberately imports nothing from xmodal.

Usage: python autofaiss_build.py EMB_DIR INDEX_PATH RESULT_JSON MAX_MEMORY AVAILABLE_MEMORY K
"""
import json
import logging
import sys
import time


def main(argv):
    emb_dir, index_path, result_path, max_mem, available, k = argv
    from autofaiss import build_index
    import autofaiss
    import faiss

    t0 = time.perf_counter()
    _, infos = build_index(
        embeddings=emb_dir,
        index_path=index_path,
        index_infos_path=result_path + ".infos.json",
        max_index_memory_usage=max_mem,
        current_memory_available=available,
        min_nearest_neighbors_to_retrieve=int(k),
        metric_type="ip",
        save_on_disk=True,
        verbose=logging.WARNING,
    )
    build_s = time.perf_counter() - t0
    with open(result_path + ".infos.json") as fh:
        infos = json.load(fh)
    with open(result_path, "w") as fh:
        json.dump({"build_s": build_s, "infos": infos, "autofaiss": autofaiss.__version__
                   if hasattr(autofaiss, "__version__") else None, "faiss": faiss.__version__}, fh)


if __name__ == "__main__":
    main(sys.argv[1:])
