// `attnviz export`: one stage of the trace as a PNG and/or SVG figure. The figure itself comes
// from engine/figure (makeFigureRequest + renderFigurePng/Svg), the same calls the desktop
// app's export action makes, so both write identical files.
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli_commands.hpp"
#include "cli_common.hpp"
#include "matrix_io.hpp"

#if HAVE_ATTNVIZ_FIGURE
#include "figure/figure.hpp"
#include "figure/session_figure.hpp"
#endif

namespace attnviz::cli {

#if HAVE_ATTNVIZ_FIGURE
namespace {

constexpr const char* kExportHelp =
    "usage: attnviz export INPUT [OPTIONS] --stage STAGE --head H|all (--png FILE | --svg FILE | both)\n"
    "                      [--colormap MAP] [--range auto|MIN:MAX] [--cell PX] [--values]\n"
    "                      [--no-labels] [--title TEXT] [--scale F]\n"
    "\n"
    "Writes a heatmap figure of one stage, without a window or GPU:\n"
    "  --stage NAME          any stage of the step strip (default weights):\n"
    "                        scores, scaled, masked, minus_row_max, exp, row_sum, weights,\n"
    "                        output, projected (token mode: heads · W_O); with a model also\n"
    "                        embedding (layer 0), resid_pre (later layers), ln_1, q, k, v, resid_mid,\n"
    "                        rope (Llama family), post_ln (encoders: the LayerNorm after the add)\n"
    "  --head H|all          head index from 0, or all heads as small multiples sharing one\n"
    "                        colour scale (default 0)\n"
    "  --layer L|all         a model's (or bundle's) layer; all: every layer in one figure, a row\n"
    "                        per layer (with --head all: the whole model, layers × heads)\n"
    "  --png FILE, --svg FILE  output files (give one or both; written atomically)\n"
    "  --colormap viridis|magma|cividis|rdbu   default, as in the app: rdbu (diverging,\n"
    "                        centred on 0) for the signed stages, viridis for exp, row_sum, weights\n"
    "  --range auto|MIN:MAX  colour scale limits (auto, as in the app: [0, max] for exp, row_sum\n"
    "                        and weights; symmetric around 0 for rdbu; else min and max)\n"
    "  --cell PX             pixels per cell, 1..512 (default: by size, up to 36)\n"
    "  --values              print each value inside its cell\n"
    "  --no-labels           no token labels or axis names\n"
    "  --title TEXT          replaces the generated title and options line (\"\" for none)\n"
    "  --scale F             multiplies every size, 0.25..8, e.g. 2 for high-DPI output\n"
    "                        (so the score scale override of OPTIONS is --score-scale X here)\n"
    "Masked cells are hatched grey. SVG cells are <rect>s up to 128×128 per head, above that\n"
    "one embedded image per head (labels stay text).\n"
    "\n"
    "A vision model's attention on its picture (--model NAME --image FILE, or a scene sample):\n"
    "  --overlay cls|rollout|token=I   where [CLS] (or token I, 0 = [CLS]) looks in layer L\n"
    "                        (default: the last layer); rollout: attention rollout to layer L;\n"
    "                        with --layer all a row per layer (× heads with --head all)\n"
    "  --head H|mean|all     one head, the mean of the heads (default), or every head\n"
    "  --fusion mean|max|min rollout's head fusion (default mean)\n"
    "  --rollout-from A      the rollout multiplies layers A … L (default 0)\n"
    "  --opacity F           0..1 (default 0.6)   --smooth   bilinear between patch centres\n"
    "  --keep F              colour only the patches holding this share of the weight (0..1)\n"
    "  The picture is the one the model saw (resized and cropped); --cell is pixels per picture\n"
    "  pixel; the same figure as the app's picture view exports.\n"
    "\n";

ValueRange parseRange(const std::string& text) {
  const auto colon = text.empty() ? std::string::npos : text.find(':', text[0] == '-' ? 1 : 0);
  if (colon == std::string::npos) throw UsageError("--range expects auto or MIN:MAX, got \"" + text + "\"");
  const double lo = parseDouble("--range", text.substr(0, colon));
  const double hi = parseDouble("--range", text.substr(colon + 1));
  if (!(lo < hi)) throw Error("--range " + text + " is empty: MIN must be less than MAX");
  return {float(lo), float(hi)};
}

// Fails before any work when an output could not be written, so that a bad second path does
// not leave the first file behind.
void checkWritable(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  if (p.filename().empty()) throw Error(path + ": not a file name");
  std::error_code ec;
  if (fs::is_directory(p, ec)) throw Error(path + ": is a directory");
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  if (!fs::is_directory(dir, ec)) throw Error("cannot write " + path + ": " + dir.string() + " is not a directory");
  if (::access(dir.c_str(), W_OK) != 0) throw Error("cannot write " + path + ": " + dir.string() + " is not writable");
}

// A PNG written into x.svg (or SVG into x.png) would open as garbage in whatever the name
// promises, so the extension must say what the file is.
void checkExtension(const char* option, const std::string& path, const char* extension) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (ext != extension)
    throw UsageError(std::string(option) + " " + path + ": the file name must end in " + extension +
                     (ext == ".png" || ext == ".svg" ? " (use " + std::string(ext == ".png" ? "--png" : "--svg") +
                                                           " for a " + ext + " file)"
                                                     : ""));
}

FigureInput figureInput(const InputArgs& input) {
  return {input.sample.value_or(""), input.sessionFile.value_or(""),
          input.tokens || input.text ? InputMode::Tokens : InputMode::Matrices};
}

// Renders every requested file before writing any, so a failure leaves no file at all.
void writeFigureFiles(const FigureRequest& request, const std::optional<std::string>& png,
                      const std::optional<std::string>& svg, const std::string& what) {
  const std::string pngBytes = png ? renderFigurePng(request) : std::string();
  const std::string svgBytes = svg ? renderFigureSvg(request) : std::string();
  if (png) writeFileAtomic(*png, pngBytes);
  if (svg) {
    try {
      writeFileAtomic(*svg, svgBytes);
    } catch (const Error&) {
      if (png) std::filesystem::remove(*png);
      throw;
    }
  }
  const FigureLayout layout = layoutFigure(request);
  std::cerr << "attnviz: wrote " << printable(png ? *png : "") << (png && svg ? " and " : "") << printable(svg ? *svg : "") << " ("
            << layout.width << "×" << layout.height << " px, " << what << ", " << request.panels.size()
            << (request.panels.size() == 1 ? " panel, " : " panels, ") << toString(request.colormap) << ")\n";
}

float parseUnit(const char* flag, const std::string& value) {
  const double v = parseDouble(flag, value);
  if (!(v >= 0 && v <= 1)) throw UsageError(std::string(flag) + " must be between 0 and 1 (got " + value + ")");
  return float(v);
}

// The flags that only --overlay takes.
struct OverlayArgs {
  std::optional<std::string> overlay, fusion, rolloutFrom, opacity, keep;
  bool smooth = false;
  bool any() const { return fusion || rolloutFrom || opacity || keep || smooth; }
};

int exportOverlay(InputArgs input, const OverlayArgs& args, const std::optional<std::string>& head,
                  const std::optional<std::string>& colormap, const std::optional<std::string>& range,
                  const FigureOptions& figure, const std::optional<std::string>& png,
                  const std::optional<std::string>& svg, bool allLayers) {
  const std::string& overlay = *args.overlay;
  const auto& fusion = args.fusion;
  const auto& rolloutFrom = args.rolloutFrom;
  const auto& opacity = args.opacity;
  const auto& keep = args.keep;
  const bool smooth = args.smooth;
  PictureFigureOptions o;
  o.allLayers = allLayers;
  if (overlay == "cls") o.selection.query = 0;
  else if (overlay == "rollout") o.selection.rollout = true;
  else if (overlay.rfind("token=", 0) == 0) o.selection.query = int(parseLong("--overlay token=", overlay.substr(6), 0, 1 << 20));
  else unknownChoice("--overlay", overlay, "cls, rollout or token=I");
  const std::string heads = head.value_or("mean");
  if (heads == "mean") o.selection.heads = PictureHeads::Mean;
  else if (heads == "all") o.selection.heads = PictureHeads::All;
  else {
    o.selection.heads = PictureHeads::Selected;
    o.selection.head = int(parseLong("--head", heads, 0, 1 << 20));
  }
  if (fusion) {
    if (*fusion != "mean" && *fusion != "max" && *fusion != "min") unknownChoice("--fusion", *fusion, "mean, max or min");
    o.selection.fusion = model::parseHeadFusion(*fusion);
  }
  if (rolloutFrom) {
    if (!o.selection.rollout) throw UsageError("--rollout-from goes with --overlay rollout");
    o.selection.rolloutFrom = int(parseLong("--rollout-from", *rolloutFrom, 0, 1 << 20));
  }
  if (opacity) o.overlay.opacity = parseUnit("--opacity", *opacity);
  if (keep) o.overlay.keep = parseUnit("--keep", *keep);
  o.overlay.smooth = smooth;
  if (colormap) o.overlay.colormap = parseColormap(*colormap);
  if (range && *range != "auto") o.overlay.range = parseRange(*range);
  o.title = figure.title;
  o.cellPx = figure.cellPx;
  o.scale = figure.scale;
  if (png) checkWritable(*png);
  if (svg) checkWritable(*svg);
  Session session = input.build();
  if (!input.layer && !session.tokens.model.empty() && !input.sample && !input.sessionFile)
    session.view.layer = model::readModelShape(session.tokens.model, modelsDirectory()).layers - 1;  // the last
  writeFigureFiles(makeSessionPictureFigure(session, figureInput(input), o), png, svg,
                   o.selection.rollout ? "rollout" : "overlay");
  return 0;
}

}  // namespace

int cmdExport(const std::vector<std::string>& args) {
  InputArgs input;
  FigureOptions options;
  std::optional<std::string> png, svg, stage, head, colormap, range;
  bool allLayers = false;
  OverlayArgs overlay;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kExportHelp << kInputHelp;
      return 0;
    }
    // `--scale` is the figure's size factor here (issue 4), so the score-scale override that
    // `compute` calls --scale is spelled --score-scale in export; checked before InputArgs.
    if (a == "--scale") {
      options.scale = float(parseDouble("--scale", takeValue(args, i)));
      continue;
    }
    if (a == "--score-scale") {
      if (input.scale) throw UsageError("--score-scale given twice");
      input.scale = takeValue(args, i);
      continue;
    }
    if (a == "--layer" && i + 1 < args.size() && args[i + 1] == "all") {  // every layer in one figure
      allLayers = true;
      ++i;
      continue;
    }
    if (input.consume(args, i)) continue;
    const auto once = [&](std::optional<std::string>& slot) {
      if (slot) throw UsageError(a + " given twice");
      slot = takeValue(args, i);
    };
    if (a == "--png") once(png);
    else if (a == "--svg") once(svg);
    else if (a == "--stage") once(stage);
    else if (a == "--head") once(head);
    else if (a == "--colormap") once(colormap);
    else if (a == "--range") once(range);
    else if (a == "--cell") options.cellPx = int(parseLong("--cell", takeValue(args, i), 1, 512));
    else if (a == "--title") options.title = takeValue(args, i);
    else if (a == "--values") options.values = true;
    else if (a == "--no-labels") options.labels = false;
    else if (a == "--overlay") once(overlay.overlay);
    else if (a == "--fusion") once(overlay.fusion);
    else if (a == "--rollout-from") once(overlay.rolloutFrom);
    else if (a == "--opacity") once(overlay.opacity);
    else if (a == "--keep") once(overlay.keep);
    else if (a == "--smooth") overlay.smooth = true;
    else throw UsageError("unknown option " + a);
  }
  if (!png && !svg) throw UsageError("export needs --png FILE or --svg FILE (or both)");
  if (png) checkExtension("--png", *png, ".png");
  if (svg) checkExtension("--svg", *svg, ".svg");
  if (png && svg && std::filesystem::path(*png) == std::filesystem::path(*svg))
    throw UsageError("--png and --svg name the same file");
  if (!(options.scale >= 0.25f && options.scale <= 8)) throw UsageError("--scale must be between 0.25 and 8");
  if (overlay.overlay) return exportOverlay(input, overlay, head, colormap, range, options, png, svg, allLayers);
  if (overlay.any()) throw UsageError("--fusion, --rollout-from, --opacity, --keep and --smooth go with --overlay");
  // Bad values (rather than bad syntax) are exit 1: the request was understood but cannot be met.
  if (stage) options.stage = parseStage(*stage);
  if (head) options.head = *head == "all" ? kAllHeads : int(parseLong("--head", *head, 0, 1 << 20));
  if (colormap) options.colormap = parseColormap(*colormap);
  if (range && *range != "auto") options.range = parseRange(*range);
  if (png) checkWritable(*png);
  if (svg) checkWritable(*svg);

  const FigureRequest request = allLayers ? makeLayersFigure(input.build(), figureInput(input), options)
                                          : makeSessionFigure(input.build(), figureInput(input), options);
  writeFigureFiles(request, png, svg, stageInfo(options.stage).name);
  return 0;
}

#else

int cmdExport(const std::vector<std::string>&) {
  throw Error("export is not available: this build has no figure library (engine/figure)");
}

#endif

}  // namespace attnviz::cli
