// LeNet-5's convolution and pooling layers as MindSpore custom CPU kernels (ops.Custom, func_type="aot").
//
// Every kernel has MindSpore's AOT signature: params holds the inputs, then the output; shapes their shapes.
// Activations are channels-last (N x H x W x C), so no layer needs a transpose. Work is split over images with
// OpenMP; sums over images use a fixed chunking, so results do not depend on the number of threads. A kernel
// returns 1 for shapes it does not cover, and MindSpore then stops with an error. Built by lenet5/cpu_kernels.py
// on first use.
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

struct Nhwc {
  int64_t n, h, w, c;
  explicit Nhwc(const int64_t *shape) : n(shape[0]), h(shape[1]), w(shape[2]), c(shape[3]) {}
};

typedef float v16 __attribute__((vector_size(64)));  // GCC/Clang vector: AVX-512, or split for narrower CPUs
constexpr int64_t kLanes = 16;
constexpr int64_t kImagesPerChunk = 8;

inline v16 load(const float *p) {
  v16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// One image's rows, zero-padded on the right so that every 16-lane load stays inside the buffer.
std::vector<float> padded_image(const float *x, int64_t h, int64_t w, int64_t stride) {
  std::vector<float> image(h * stride + kLanes, 0.0f);
  for (int64_t r = 0; r < h; ++r) std::memcpy(image.data() + r * stride, x + r * w, w * sizeof(float));
  return image;
}

// --- first layer: one input channel, direct convolution, a row of outputs per step in registers ------------------

template <int O, int B>
void first_conv_image(const float *image, int64_t stride, const float *weight, int64_t k, int64_t oh, int64_t ow,
                      float *y) {
  for (int64_t r = 0; r < oh; ++r) {
    v16 acc[O][B] = {};
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) {
        v16 pixels[B];
        for (int b = 0; b < B; ++b) pixels[b] = load(image + (r + i) * stride + j + b * kLanes);
        for (int o = 0; o < O; ++o) {
          const float tap = weight[(o * k + i) * k + j];
          for (int b = 0; b < B; ++b) acc[o][b] += tap * pixels[b];
        }
      }
    float *out = y + r * ow * O;
    for (int64_t q = 0; q < ow; ++q)
      for (int o = 0; o < O; ++o) out[q * O + o] = acc[o][q / kLanes][q % kLanes];
  }
}

template <int O, int B>
void first_conv_weight_grad_image(const float *image, int64_t stride, const float *dy, int64_t k, int64_t oh,
                                  int64_t ow, v16 *acc /* O x K x K x B */) {
  for (int64_t r = 0; r < oh; ++r) {
    v16 grad[O][B] = {};  // lanes past the row's end stay zero
    for (int64_t q = 0; q < ow; ++q)
      for (int o = 0; o < O; ++o) grad[o][q / kLanes][q % kLanes] = dy[(r * ow + q) * O + o];
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) {
        v16 pixels[B];
        for (int b = 0; b < B; ++b) pixels[b] = load(image + (r + i) * stride + j + b * kLanes);
        for (int o = 0; o < O; ++o)
          for (int b = 0; b < B; ++b) acc[((o * k + i) * k + j) * B + b] += grad[o][b] * pixels[b];
      }
  }
}

template <int O, int B>
void first_conv(const float *x, const float *weight, float *y, int64_t n, int64_t h, int64_t w, int64_t k) {
  const int64_t oh = h - k + 1, ow = w - k + 1, stride = B * kLanes + k;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < n; ++b) {
    const std::vector<float> image = padded_image(x + b * h * w, h, w, stride);
    first_conv_image<O, B>(image.data(), stride, weight, k, oh, ow, y + b * oh * ow * O);
  }
}

template <int O, int B>
void first_conv_weight_grad(const float *x, const float *dy, float *dweight, int64_t n, int64_t h, int64_t w,
                            int64_t k) {
  const int64_t oh = h - k + 1, ow = w - k + 1, stride = B * kLanes + k, taps = O * k * k;
  const int64_t chunks = (n + kImagesPerChunk - 1) / kImagesPerChunk;
  std::vector<v16> partial(chunks * taps * B, v16{});
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t b = c * kImagesPerChunk; b < n && b < (c + 1) * kImagesPerChunk; ++b) {
      const std::vector<float> image = padded_image(x + b * h * w, h, w, stride);
      first_conv_weight_grad_image<O, B>(image.data(), stride, dy + b * oh * ow * O, k, oh, ow,
                                         partial.data() + c * taps * B);
    }
  for (int64_t t = 0; t < taps; ++t) {
    v16 sum{};
    for (int64_t c = 0; c < chunks; ++c)
      for (int b = 0; b < B; ++b) sum += partial[(c * taps + t) * B + b];
    float total = 0.0f;
    for (int64_t lane = 0; lane < kLanes; ++lane) total += sum[lane];
    dweight[t] = total;
  }
}

// The first layer's kernels cover x N x H x W x 1 with a 6 x 1 x K x K weight (shape at weight_shape) and output
// rows of up to 32 pixels: `run(in, k, wide)` gets the shapes, wide for rows over 16 pixels (two vectors).
template <typename Run>
int first_layer(int64_t **shapes, int weight_shape, Run run) {
  const Nhwc in(shapes[0]);
  const int64_t out_channels = shapes[weight_shape][0], k = shapes[weight_shape][2], ow = in.w - k + 1;
  if (in.c != 1 || out_channels != 6 || ow > 2 * kLanes) return 1;
  run(in, k, ow > kLanes);
  return 0;
}

}  // namespace

// x N x H x W x 1, weight 6 x 1 x K x K -> y N x OH x OW x 6
extern "C" int FirstConv(int, void **params, int *, int64_t **shapes, const char **, void *, void *) {
  const auto *x = static_cast<const float *>(params[0]);
  const auto *weight = static_cast<const float *>(params[1]);
  auto *y = static_cast<float *>(params[2]);
  return first_layer(shapes, 1, [&](const Nhwc &in, int64_t k, bool wide) {
    (wide ? first_conv<6, 2> : first_conv<6, 1>)(x, weight, y, in.n, in.h, in.w, k);
  });
}

// x N x H x W x 1, dy N x OH x OW x 6 -> dweight 6 x 1 x K x K
extern "C" int FirstConvWeightGrad(int, void **params, int *, int64_t **shapes, const char **, void *, void *) {
  const auto *x = static_cast<const float *>(params[0]);
  const auto *dy = static_cast<const float *>(params[1]);
  auto *dweight = static_cast<float *>(params[2]);
  return first_layer(shapes, 2, [&](const Nhwc &in, int64_t k, bool wide) {
    (wide ? first_conv_weight_grad<6, 2> : first_conv_weight_grad<6, 1>)(x, dy, dweight, in.n, in.h, in.w, k);
  });
}

// --- second layer: C -> 16 channels, one 16-lane vector per output pixel ----------------------------------------

namespace {

constexpr int64_t kSecondOut = 16;  // = kLanes: a pixel's output channels are one vector

// weight 16 x C x K x K -> one 16-lane vector per tap, taps in (row, column, channel) order
std::vector<v16> taps_by_row(const float *weight, int64_t c, int64_t k) {
  std::vector<v16> taps(k * k * c);
  for (int64_t o = 0; o < kSecondOut; ++o)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j) taps[(i * k + j) * c + ch][o] = weight[((o * c + ch) * k + i) * k + j];
  return taps;
}

// U output pixels of one row, from q on
template <int U>
void second_conv_pixels(const float *x, const v16 *taps, const Nhwc &in, int64_t k, int64_t b, int64_t r,
                        int64_t q, float *y) {
  const int64_t row = k * in.c;  // a patch row: K pixels x C channels, contiguous in the input
  v16 acc[U] = {};
  for (int64_t i = 0; i < k; ++i) {
    const float *src = x + ((b * in.h + r + i) * in.w + q) * in.c;
    const v16 *tap = taps + i * row;
    for (int64_t t = 0; t < row; ++t)
      for (int u = 0; u < U; ++u) acc[u] += tap[t] * src[u * in.c + t];
  }
  std::memcpy(y, acc, sizeof acc);
}

}  // namespace

// x N x H x W x C, weight 16 x C x K x K -> y N x OH x OW x 16
extern "C" int SecondConv(int, void **params, int *, int64_t **shapes, const char **, void *, void *) {
  const auto *x = static_cast<const float *>(params[0]);
  const auto *weight = static_cast<const float *>(params[1]);
  auto *y = static_cast<float *>(params[2]);
  const Nhwc in(shapes[0]), out(shapes[2]);
  const int64_t k = shapes[1][2];
  if (out.c != kSecondOut) return 1;
  const std::vector<v16> taps = taps_by_row(weight, in.c, k);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < in.n; ++b)
    for (int64_t r = 0; r < out.h; ++r)
      for (int64_t q = 0; q < out.w; q += 4) {
        float *dst = y + ((b * out.h + r) * out.w + q) * kSecondOut;
        switch (out.w - q) {
          case 1: second_conv_pixels<1>(x, taps.data(), in, k, b, r, q, dst); break;
          case 2: second_conv_pixels<2>(x, taps.data(), in, k, b, r, q, dst); break;
          case 3: second_conv_pixels<3>(x, taps.data(), in, k, b, r, q, dst); break;
          default: second_conv_pixels<4>(x, taps.data(), in, k, b, r, q, dst);
        }
      }
  return 0;
}

namespace {

// one image's input gradient: each output pixel's gradient spread over its patch, one patch row (K*C values,
// B vectors zero-padded past them) at a time
template <int B>
void second_conv_input_grad_image(const float *dy, const v16 *by_channel, const Nhwc &out, const Nhwc &in, int64_t k,
                                  float *dx) {
  const int64_t row = k * in.c;
  for (int64_t r = 0; r < out.h; ++r)
    for (int64_t q = 0; q < out.w; ++q) {
      const float *g = dy + (r * out.w + q) * kSecondOut;
      for (int64_t i = 0; i < k; ++i) {
        v16 acc[B] = {};
        for (int64_t o = 0; o < kSecondOut; ++o)
          for (int b = 0; b < B; ++b) acc[b] += g[o] * by_channel[(o * k + i) * B + b];
        float sum[B * kLanes];
        std::memcpy(sum, acc, sizeof sum);
        float *dst = dx + ((r + i) * in.w + q) * in.c;
        for (int64_t t = 0; t < row; ++t) dst[t] += sum[t];
      }
    }
}

}  // namespace

// dy N x OH x OW x 16, weight 16 x C x K x K -> dx N x H x W x C (patch rows of K*C <= 64 values)
extern "C" int SecondConvInputGrad(int, void **params, int *, int64_t **shapes, const char **, void *, void *) {
  const auto *dy = static_cast<const float *>(params[0]);
  const auto *weight = static_cast<const float *>(params[1]);
  auto *dx = static_cast<float *>(params[2]);
  const Nhwc out(shapes[0]), in(shapes[2]);
  const int64_t k = shapes[1][2], row = k * in.c, blocks = (row + kLanes - 1) / kLanes;
  if (out.c != kSecondOut || blocks > 4) return 1;
  // per output channel and kernel row, the taps in (column, channel) order as in a patch row, zero-padded
  std::vector<v16> by_channel(kSecondOut * k * blocks, v16{});
  for (int64_t o = 0; o < kSecondOut; ++o)
    for (int64_t ch = 0; ch < in.c; ++ch)
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j) {
          const int64_t t = j * in.c + ch;
          by_channel[(o * k + i) * blocks + t / kLanes][t % kLanes] = weight[((o * in.c + ch) * k + i) * k + j];
        }
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < in.n; ++b) {
    float *image = dx + b * in.h * in.w * in.c;
    const float *grad = dy + b * out.h * out.w * kSecondOut;
    std::memset(image, 0, in.h * in.w * in.c * sizeof(float));
    switch (blocks) {
      case 1: second_conv_input_grad_image<1>(grad, by_channel.data(), out, in, k, image); break;
      case 2: second_conv_input_grad_image<2>(grad, by_channel.data(), out, in, k, image); break;
      case 3: second_conv_input_grad_image<3>(grad, by_channel.data(), out, in, k, image); break;
      default: second_conv_input_grad_image<4>(grad, by_channel.data(), out, in, k, image);
    }
  }
  return 0;
}

// x N x H x W x C, dy N x OH x OW x 16 -> dweight 16 x C x K x K
extern "C" int SecondConvWeightGrad(int, void **params, int *, int64_t **shapes, const char **, void *, void *) {
  const auto *x = static_cast<const float *>(params[0]);
  const auto *dy = static_cast<const float *>(params[1]);
  auto *dweight = static_cast<float *>(params[2]);
  const Nhwc in(shapes[0]), out(shapes[1]);
  const int64_t k = shapes[2][2], row = k * in.c, taps = k * row;
  if (out.c != kSecondOut) return 1;
  const int64_t chunks = (in.n + kImagesPerChunk - 1) / kImagesPerChunk;
  std::vector<v16> partial(chunks * taps, v16{});
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    v16 *acc = partial.data() + c * taps;
    for (int64_t b = c * kImagesPerChunk; b < in.n && b < (c + 1) * kImagesPerChunk; ++b)
      for (int64_t r = 0; r < out.h; ++r)
        for (int64_t q = 0; q < out.w; ++q) {
          const v16 g = load(dy + ((b * out.h + r) * out.w + q) * kSecondOut);
          for (int64_t i = 0; i < k; ++i) {
            const float *src = x + ((b * in.h + r + i) * in.w + q) * in.c;
            for (int64_t t = 0; t < row; ++t) acc[i * row + t] += g * src[t];
          }
        }
  }
  for (int64_t t = 0; t < taps; ++t) {
    v16 sum{};
    for (int64_t c = 0; c < chunks; ++c) sum += partial[c * taps + t];
    const int64_t i = t / row, j = (t % row) / in.c, ch = t % in.c;
    for (int64_t o = 0; o < kSecondOut; ++o) dweight[((o * in.c + ch) * k + i) * k + j] = sum[o];
  }
  return 0;
}

// --- ReLU then 2x2 max-pool, stride 2 ---------------------------------------------------------------------------------

namespace {

// Calls visit(top, at) for every 2x2 window of x N x H x W x C (H, W even) with its output pixel in
// N x H/2 x W/2 x C: top = the window's first value in x, at = the output's first value (channel 0 each).
template <typename Visit>
int for_each_window(const Nhwc &in, const Nhwc &out, Visit visit) {
  if (in.h != 2 * out.h || in.w != 2 * out.w) return 1;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < out.n; ++b)
    for (int64_t r = 0; r < out.h; ++r)
      for (int64_t q = 0; q < out.w; ++q)
        visit(((b * in.h + 2 * r) * in.w + 2 * q) * in.c, ((b * out.h + r) * out.w + q) * in.c);
  return 0;
}

}  // namespace

// x N x H x W x C (H, W even) -> y N x H/2 x W/2 x C, y = max(0, window maximum); NaN stays NaN
extern "C" int ReluMaxPool(int, void **params, int *, int64_t **shapes, const char **, void *, void *) {
  const auto *x = static_cast<const float *>(params[0]);
  auto *y = static_cast<float *>(params[1]);
  const Nhwc in(shapes[0]), out(shapes[1]);
  const int64_t c = in.c, line = in.w * c;
  return for_each_window(in, out, [&](int64_t top, int64_t at) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const int64_t p0 = top + ch;
      float m = 0.0f;
      for (const float v : {x[p0], x[p0 + c], x[p0 + line], x[p0 + line + c]}) m = v > m || v != v ? v : m;
      y[at + ch] = m;
    }
  });
}

// x, y, dy -> dx: a window's gradient goes to its first maximum (MaxPool's rule), and only where y > 0 (ReLU's)
extern "C" int ReluMaxPoolGrad(int, void **params, int *, int64_t **shapes, const char **, void *, void *) {
  const auto *x = static_cast<const float *>(params[0]);
  const auto *y = static_cast<const float *>(params[1]);
  const auto *dy = static_cast<const float *>(params[2]);
  auto *dx = static_cast<float *>(params[3]);
  const Nhwc in(shapes[0]), out(shapes[1]);
  const int64_t c = in.c, line = in.w * c;
  return for_each_window(in, out, [&](int64_t top, int64_t at) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const float m = y[at + ch], g = m > 0.0f ? dy[at + ch] : 0.0f;
      const int64_t p0 = top + ch, p1 = p0 + c, p2 = p0 + line, p3 = p2 + c;
      const bool first = x[p0] == m, second = !first && x[p1] == m, third = !first && !second && x[p2] == m;
      dx[p0] = first ? g : 0.0f;
      dx[p1] = second ? g : 0.0f;
      dx[p2] = third ? g : 0.0f;
      dx[p3] = first || second || third ? 0.0f : g;
    }
  });
}
