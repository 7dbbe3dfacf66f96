{
  "targets": [
    {
      "target_name": "xfrm_native",
      "sources": ["csrc/addon.c", "csrc/aead.c", "csrc/args.c", "csrc/io.c", "csrc/memory.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
