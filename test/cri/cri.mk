# test/cri/: the CRI client and image builder of test/integration/600-containerd.bats.
# Debian's containerd (1.6, with its CRI plugin), gRPC and protobuf for the
# client, and protoc to compile test/cri/cri.proto at test time.
EXTRA_DEB_DEPS += containerd python3-grpcio python3-protobuf protobuf-compiler
