// The baselines' TorchScript source. Every model receives inputs [B, T, 1]
// right-padded with 0, the horizon, the quantile levels and the input lengths
// [B], and returns [B, H, 1, Q]. A shared helper turns a point forecast and a
// per-step spread into normal quantiles (z = sqrt(2) erfinv(2q - 1)).
#include "crucible/engine/models/torchscript/baseline_models.h"

#include <torch/script.h>

#include <stdexcept>

namespace crucible {
namespace {

// Helpers every baseline defines first: the valid-step mask, the last valid
// value, masked mean and std, and point + spread -> quantiles.
const char* const kHelpers = R"(
def valid_mask(self, inputs: Tensor, lengths: Tensor) -> Tensor:
    steps = torch.arange(inputs.size(1), device=inputs.device)
    return (steps.unsqueeze(0) < lengths.unsqueeze(1)).to(inputs.dtype)

def last_value(self, x: Tensor, lengths: Tensor) -> Tensor:
    index = torch.clamp(lengths - 1, min=0).unsqueeze(1)
    return torch.gather(x, 1, index).squeeze(1)

def masked_mean(self, x: Tensor, mask: Tensor) -> Tensor:
    return (x * mask).sum(1) / torch.clamp(mask.sum(1), min=1.0)

def step_spread(self, x: Tensor, mask: Tensor) -> Tensor:
    diffs = (x[:, 1:] - x[:, :-1]) * mask[:, 1:]
    count = torch.clamp(mask[:, 1:].sum(1), min=1.0)
    mean = diffs.sum(1) / count
    var = ((diffs - mean.unsqueeze(1)) * mask[:, 1:]).pow(2).sum(1) / count
    return torch.sqrt(var + 1e-6)

def to_quantiles(self, point: Tensor, spread: Tensor, quantiles: List[float]) -> Tensor:
    q = torch.tensor(quantiles, dtype=point.dtype, device=point.device)
    z = 1.4142135623730951 * torch.erfinv(2.0 * q - 1.0)
    out = point.unsqueeze(-1) + spread.unsqueeze(-1) * z
    return out.unsqueeze(2)
)";

struct Baseline {
  const char* name;
  const char* forecast;  // the forecast method; may use self.period
};

const Baseline kBaselines[] = {
    {"naive", R"(
def forecast(self, inputs: Tensor, prediction_length: int, quantiles: List[float], lengths: Tensor) -> Tensor:
    x = inputs[:, :, 0]
    mask = self.valid_mask(inputs, lengths)
    last = self.last_value(x, lengths)
    h = torch.arange(1, prediction_length + 1, dtype=x.dtype, device=x.device)
    point = last.unsqueeze(1).expand(x.size(0), prediction_length)
    spread = self.step_spread(x, mask).unsqueeze(1) * torch.sqrt(h).unsqueeze(0)
    return self.to_quantiles(point, spread, quantiles)
)"},
    {"seasonal_naive", R"(
def forecast(self, inputs: Tensor, prediction_length: int, quantiles: List[float], lengths: Tensor) -> Tensor:
    x = inputs[:, :, 0]
    mask = self.valid_mask(inputs, lengths)
    period = self.period
    h = torch.arange(prediction_length, device=x.device)
    back = torch.clamp(lengths, max=period).unsqueeze(1)
    index = torch.clamp(lengths.unsqueeze(1) - back + torch.remainder(h.unsqueeze(0), back), min=0)
    point = torch.gather(x, 1, index)
    seasons = torch.floor_divide(h, period).to(x.dtype) + 1.0
    spread = self.step_spread(x, mask).unsqueeze(1) * torch.sqrt(seasons).unsqueeze(0)
    return self.to_quantiles(point, spread, quantiles)
)"},
    {"mean", R"(
def forecast(self, inputs: Tensor, prediction_length: int, quantiles: List[float], lengths: Tensor) -> Tensor:
    x = inputs[:, :, 0]
    mask = self.valid_mask(inputs, lengths)
    mean = self.masked_mean(x, mask)
    var = self.masked_mean((x - mean.unsqueeze(1)).pow(2), mask)
    point = mean.unsqueeze(1).expand(x.size(0), prediction_length)
    spread = torch.sqrt(var + 1e-6).unsqueeze(1).expand(x.size(0), prediction_length)
    return self.to_quantiles(point, spread, quantiles)
)"},
    {"drift", R"(
def forecast(self, inputs: Tensor, prediction_length: int, quantiles: List[float], lengths: Tensor) -> Tensor:
    x = inputs[:, :, 0]
    mask = self.valid_mask(inputs, lengths)
    last = self.last_value(x, lengths)
    slope = (last - x[:, 0]) / torch.clamp(lengths - 1, min=1).to(x.dtype)
    h = torch.arange(1, prediction_length + 1, dtype=x.dtype, device=x.device)
    point = last.unsqueeze(1) + slope.unsqueeze(1) * h.unsqueeze(0)
    spread = self.step_spread(x, mask).unsqueeze(1) * torch.sqrt(h).unsqueeze(0)
    return self.to_quantiles(point, spread, quantiles)
)"},
    {"linear_ar", R"(
def forecast(self, inputs: Tensor, prediction_length: int, quantiles: List[float], lengths: Tensor) -> Tensor:
    x = inputs[:, :, 0]
    mask = self.valid_mask(inputs, lengths)
    p = self.period
    points = x.new_zeros([x.size(0), prediction_length]).double()
    for b in range(x.size(0)):
        n = int(lengths[b])
        series = x[b, :n].double()
        if n <= 2 * p + 1:
            if n > 0:
                points[b] = series[n - 1]
            continue
        rows = n - p
        design = torch.stack([series[i:i + rows] for i in range(p)], 1)
        design = torch.cat([design, torch.ones_like(design[:, :1])], 1)
        target = series[p:].unsqueeze(1)
        gram = torch.matmul(design.t(), design)
        ridge = 1e-8 * torch.eye(p + 1, dtype=gram.dtype, device=x.device) * gram.diagonal().mean()
        coef = torch.linalg_solve(gram + ridge, torch.matmul(design.t(), target))[:, 0]
        window = series[n - p:]
        for t in range(prediction_length):
            value = (window * coef[:p]).sum() + coef[p]
            points[b, t] = value
            window = torch.cat([window[1:], value.unsqueeze(0)])
    h = torch.arange(1, prediction_length + 1, dtype=x.dtype, device=x.device)
    spread = self.step_spread(x, mask).unsqueeze(1) * torch.sqrt(h).unsqueeze(0)
    return self.to_quantiles(points.to(x.dtype), spread, quantiles)
)"},
};

// A one-layer attention forecaster with fixed random weights: embeds each
// input step, attends from a learned query per horizon step, projects to a
// point and a spread. For throughput work; its forecasts are not meant to be good.
const char* const kTransformer = R"(
def forecast(self, inputs: Tensor, prediction_length: int, quantiles: List[float], lengths: Tensor) -> Tensor:
    x = inputs[:, :, 0]
    mask = self.valid_mask(inputs, lengths)
    mean = self.masked_mean(x, mask)
    scale = torch.sqrt(self.masked_mean((x - mean.unsqueeze(1)).pow(2), mask) + 1e-6)
    z = ((x - mean.unsqueeze(1)) / scale.unsqueeze(1)).unsqueeze(-1)
    keys = torch.matmul(z, self.embed_k)
    values = torch.matmul(z, self.embed_v)
    queries = self.queries[:prediction_length].unsqueeze(0)
    scores = torch.matmul(queries, keys.transpose(1, 2)) / 4.0
    scores = scores.masked_fill(mask.unsqueeze(1) == 0, -1e9)
    attended = torch.matmul(torch.softmax(scores, -1), values)
    out = torch.matmul(torch.tanh(attended), self.head)
    point = mean.unsqueeze(1) + scale.unsqueeze(1) * out[:, :, 0]
    spread = scale.unsqueeze(1) * torch.softplus(out[:, :, 1]) + 1e-3
    return self.to_quantiles(point, spread, quantiles)
)";

// A regression on the group's known covariates: each row is fitted, by least
// squares over its context, as an intercept plus a multiple of each known
// covariate of its group, and forecast from their given future values; the
// spread is the fit's residual standard deviation. A row whose group has no
// known covariate is forecast as `naive` does.
const char* const kCovariateRegression = R"(
def forecast(self, inputs: Tensor, prediction_length: int, quantiles: List[float], lengths: Tensor, group_ids: Tensor, future_inputs: Tensor) -> Tensor:
    x = inputs[:, :, 0]
    batch = x.size(0)
    mask = self.valid_mask(inputs, lengths)
    last = self.last_value(x, lengths)
    h = torch.arange(1, prediction_length + 1, dtype=x.dtype, device=x.device)
    point = last.unsqueeze(1).expand(batch, prediction_length).clone()
    spread = (self.step_spread(x, mask).unsqueeze(1) * torch.sqrt(h).unsqueeze(0)).clone()
    future = future_inputs[:, :prediction_length]
    known = torch.logical_not(torch.isnan(future).all(1))
    rows = torch.arange(batch, device=x.device)
    for i in range(batch):
        drivers = (group_ids == group_ids[i]) & known & (rows != i)
        if bool(drivers.any()):
            m = mask[i].double()
            fit = torch.cat([torch.ones_like(m).unsqueeze(0), x[drivers].double()], 0).t()
            solution = torch.linalg_lstsq(fit * m.unsqueeze(1), (x[i].double() * m).unsqueeze(1))[0]
            residual = (x[i].double() - torch.matmul(fit, solution)[:, 0]) * m
            n = torch.clamp(m.sum(), min=2.0)
            ahead = torch.cat([torch.ones_like(h).double().unsqueeze(0), torch.nan_to_num(future[drivers]).double()], 0).t()
            point[i] = torch.matmul(ahead, solution)[:, 0].to(x.dtype)
            spread[i] = torch.sqrt(residual.pow(2).sum() / (n - 1.0) + 1e-6).to(x.dtype)
    return self.to_quantiles(point, spread, quantiles)
)";

constexpr int64_t kPeriod = 24;        // seasonal naive's season, the AR order
constexpr int64_t kModelWidth = 16;    // transformer embedding width
constexpr int64_t kMaxHorizon = 1024;  // transformer's learned horizon queries

torch::jit::Module base_module(const std::string& name) {
  torch::jit::Module module(name);
  module.register_attribute("period", c10::IntType::get(), kPeriod);
  module.define(kHelpers);
  return module;
}

void save(torch::jit::Module& module, const std::string& path) {
  try {
    module.save(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": cannot write: " +
                             std::string(e.what()).substr(0, std::string(e.what()).find('\n')));
  }
}

}  // namespace

std::vector<std::string> baseline_model_names() {
  std::vector<std::string> names;
  for (const Baseline& b : kBaselines) names.push_back(b.name);
  names.push_back("transformer");
  return names;
}

std::vector<std::string> write_baseline_models(const std::string& directory) {
  std::vector<std::string> paths;
  int index = 0;
  for (const Baseline& b : kBaselines) {
    torch::jit::Module module = base_module(b.name);
    module.define(b.forecast);
    paths.push_back(directory + "/" + std::to_string(index++) + "_" + b.name + ".pt");
    save(module, paths.back());
  }
  torch::jit::Module transformer = base_module("transformer");
  torch::manual_seed(20240611);
  transformer.register_parameter("embed_k", torch::randn({1, kModelWidth}), false);
  transformer.register_parameter("embed_v", torch::randn({1, kModelWidth}), false);
  transformer.register_parameter("queries", torch::randn({kMaxHorizon, kModelWidth}), false);
  transformer.register_parameter("head", torch::randn({kModelWidth, 2}) * 0.1, false);
  transformer.define(kTransformer);
  paths.push_back(directory + "/" + std::to_string(index) + "_transformer.pt");
  save(transformer, paths.back());
  return paths;
}

std::string write_covariate_baseline_model(const std::string& directory, int64_t uid) {
  torch::jit::Module module = base_module("covariate_regression");
  module.define(kCovariateRegression);
  const std::string path = directory + "/" + std::to_string(uid) + "_covariate_regression.pt";
  save(module, path);
  return path;
}

}  // namespace crucible
