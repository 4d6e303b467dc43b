#!/usr/bin/python3
"""Build an OCI image layout tarball from a directory, offline, for
`ctr images import`: one uncompressed layer, a config with CMD, a manifest
and an index naming the image.

  mkimage.py OUT.tar REF ROOTFS_DIR [CMD...]

REF is the full name containerd gives the image (localhost/x/busybox:1).
The layer's entries are sorted, owned by root and dated 0, so the same
directory gives the same image digest.
"""
import hashlib
import io
import json
import os
import platform
import sys
import tarfile

GOARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def layer_tar(root):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        paths = []
        for d, dirs, files in os.walk(root):
            paths += [os.path.join(d, n) for n in dirs + files]
        for path in sorted(paths):
            info = t.gettarinfo(path, os.path.relpath(path, root))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            if info.isfile():
                with open(path, "rb") as f:
                    t.addfile(info, f)
            else:
                t.addfile(info)
    return buf.getvalue()


def blob(out, data, media_type):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo("blobs/sha256/" + digest[7:])
    info.size = len(data)
    out.addfile(info, io.BytesIO(data))
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out_path, ref, root, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    layer = layer_tar(root)
    config = {
        "architecture": GOARCH, "os": "linux",
        "config": {"Cmd": cmd or ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }
    with tarfile.open(out_path, "w") as out:
        layer_desc = blob(out, layer, "application/vnd.oci.image.layer.v1.tar")
        config_desc = blob(out, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": config_desc, "layers": [layer_desc]}
        man_desc = blob(out, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
        man_desc["platform"] = {"architecture": GOARCH, "os": "linux"}
        man_desc["annotations"] = {"io.containerd.image.name": ref,
                                   "org.opencontainers.image.ref.name": ref.rpartition(":")[2]}
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [man_desc]}
        for name, data in (("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
                           ("index.json", json.dumps(index).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main()
