#!/usr/bin/python3
"""A small CRI v1 client for the tests: drives containerd's CRI plugin the
way the kubelet does (RunPodSandbox, CreateContainer, StartContainer, ...)
over its gRPC socket.

The message classes come from cri.proto beside this file, compiled at run
time with Debian's protoc (protobuf-compiler) into a cache directory; the
gRPC method stubs are written here by hand (channel.unary_unary), so no
grpc code generator is needed.  Every command prints one JSON object and
exits 0, or prints {"error": ..., "step": RPC} and exits 1.

  cri.py --socket S version
  cri.py --socket S run NAME NAMESPACE IMAGE [--handler H] [--ann K=V]...
         [--ctr-ann K=V]... [--cgroup-parent P] [--pid node|pod|container]
         [-- COMMAND...]          pod + container, started; prints ids and pid
  cri.py --socket S pods          the pods, with handler and annotations
  cri.py --socket S rmpod ID...   stop and remove pods (and their containers)
  cri.py --socket S rmall         every pod
  cri.py --socket S images        image tags the CRI plugin sees
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))


def load_messages():
    proto = os.path.join(HERE, "cri.proto")
    with open(proto, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    cache = os.path.join(os.environ.get("CRI_PY_CACHE", "/tmp"), "samepage-cri-" + digest)
    if not os.path.exists(os.path.join(cache, "cri_pb2.py")):
        tmp = "%s.tmp.%d" % (cache, os.getpid())
        os.makedirs(tmp)
        subprocess.run(["protoc", "-I", HERE, "--python_out", tmp, proto], check=True)
        try:
            os.rename(tmp, cache)
        except OSError:  # another run compiled it meanwhile
            subprocess.run(["rm", "-rf", tmp])
    sys.path.insert(0, cache)
    import cri_pb2
    return cri_pb2


pb = load_messages()


class CriError(Exception):
    def __init__(self, step, err):
        super().__init__(err.details() if isinstance(err, grpc.RpcError) else str(err))
        self.step = step


class Client:
    def __init__(self, socket, timeout):
        self.channel = grpc.insecure_channel("unix://" + socket)
        self.timeout = timeout

    def call(self, service, method, request, response_class):
        stub = self.channel.unary_unary(
            "/runtime.v1.%s/%s" % (service, method),
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_class.FromString)
        try:
            return stub(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise CriError(method, e) from None

    def runtime(self, method, request):
        return self.call("RuntimeService", method, request, getattr(pb, method + "Response"))


def key_values(pairs):
    out = {}
    for kv in pairs or []:
        k, sep, v = kv.partition("=")
        if not sep:
            sys.exit("not KEY=VALUE: " + kv)
        out[k] = v
    return out


MODES = {"pod": pb.POD, "container": pb.CONTAINER, "node": pb.NODE}


def pod_config(a):
    cfg = pb.PodSandboxConfig()
    cfg.metadata.name = a.name
    cfg.metadata.namespace = a.namespace
    cfg.metadata.uid = hashlib.sha256((a.namespace + "/" + a.name).encode()).hexdigest()[:32]
    cfg.log_directory = a.log_dir
    cfg.annotations.update(key_values(a.ann))
    cfg.labels["samepage-test"] = "1"
    cfg.linux.cgroup_parent = a.cgroup_parent
    ns = cfg.linux.security_context.namespace_options
    ns.network = pb.NODE  # host network: no CNI, no netns to clean
    ns.pid = MODES[a.pid]
    return cfg


def container_config(a):
    c = pb.ContainerConfig()
    c.metadata.name = a.name + "-c"
    c.image.image = a.image
    c.command.extend(a.command or ["sleep", "1000"])
    c.annotations.update(key_values(a.ctr_ann))
    c.log_path = a.name + "-c.log"
    ns = c.linux.security_context.namespace_options
    ns.network = pb.NODE
    ns.pid = MODES[a.pid]
    return c


def container_pid(cli, cid):
    st = cli.runtime("ContainerStatus", pb.ContainerStatusRequest(container_id=cid, verbose=True))
    info = json.loads(st.info.get("info", "{}"))
    return info.get("pid", 0), pb.ContainerState.Name(st.status.state)


def cmd_run(cli, a):
    cfg = pod_config(a)
    out = {}
    pod = cli.runtime("RunPodSandbox", pb.RunPodSandboxRequest(config=cfg, runtime_handler=a.handler))
    out["pod"] = pod.pod_sandbox_id
    try:
        ctr = cli.runtime("CreateContainer", pb.CreateContainerRequest(
            pod_sandbox_id=pod.pod_sandbox_id, config=container_config(a), sandbox_config=cfg))
        out["container"] = ctr.container_id
        cli.runtime("StartContainer", pb.StartContainerRequest(container_id=ctr.container_id))
    except CriError as e:
        e.partial = out
        raise
    out["pid"], out["state"] = container_pid(cli, out["container"])
    return out


def cmd_pods(cli, a):
    items = cli.runtime("ListPodSandbox", pb.ListPodSandboxRequest()).items
    return {"pods": [{"id": p.id, "name": p.metadata.name, "namespace": p.metadata.namespace,
                      "handler": p.runtime_handler, "annotations": dict(p.annotations)}
                     for p in items]}


def remove_pods(cli, ids):
    for pid in ids:
        cli.runtime("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=pid))
        cli.runtime("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=pid))
    return {"removed": list(ids)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--socket", required=True)
    p.add_argument("--timeout", type=float, default=60)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("version")
    sub.add_parser("pods")
    sub.add_parser("images")
    sub.add_parser("rmall")
    r = sub.add_parser("rmpod")
    r.add_argument("ids", nargs="+")
    r = sub.add_parser("run")
    r.add_argument("name")
    r.add_argument("namespace")
    r.add_argument("image")
    r.add_argument("--handler", default="")
    r.add_argument("--ann", action="append")
    r.add_argument("--ctr-ann", action="append")
    r.add_argument("--cgroup-parent", default="")
    r.add_argument("--log-dir", default="/tmp")
    r.add_argument("--pid", choices=MODES, default="container")
    argv = sys.argv[1:]
    command = []
    if "--" in argv:  # argparse would mix the command's options with ours
        command = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    a = p.parse_args(argv)
    a.command = command
    cli = Client(a.socket, a.timeout)
    try:
        if a.cmd == "version":
            v = cli.runtime("Version", pb.VersionRequest(version="v1"))
            out = {"runtime_name": v.runtime_name, "runtime_version": v.runtime_version,
                   "runtime_api_version": v.runtime_api_version}
        elif a.cmd == "run":
            out = cmd_run(cli, a)
        elif a.cmd == "pods":
            out = cmd_pods(cli, a)
        elif a.cmd == "images":
            imgs = cli.call("ImageService", "ListImages", pb.ListImagesRequest(), pb.ListImagesResponse)
            out = {"images": [t for i in imgs.images for t in i.repo_tags]}
        elif a.cmd == "rmpod":
            out = remove_pods(cli, a.ids)
        else:
            out = remove_pods(cli, [p["id"] for p in cmd_pods(cli, a)["pods"]])
    except CriError as e:
        err = dict(getattr(e, "partial", {}))
        err.update({"error": str(e), "step": e.step})
        print(json.dumps(err))
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
