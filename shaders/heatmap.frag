#version 430 core
// Maps one float texel per matrix cell through the 256-entry colour-map LUT (the same table
// the colour bar and the exporters use). Masked cells hold -inf and get a hatch instead of a
// colour, so "not allowed" never looks like a small value.
uniform sampler2D uValues;   // R32F, width = columns, height = rows
uniform sampler2D uLut;      // 256x1 RGBA8
uniform vec2 uRange;         // value at LUT entry 0 and at entry 255
uniform ivec2 uSize;         // columns, rows
uniform ivec2 uPinned;       // pinned (column, row), -1 when none
in vec2 vCell;
out vec4 fragColor;

void main() {
  ivec2 cell = ivec2(floor(vCell));
  if (any(lessThan(cell, ivec2(0))) || any(greaterThanEqual(cell, uSize))) discard;
  float v = texelFetch(uValues, cell, 0).r;
  vec3 color;
  if (isinf(v) && v < 0.0) {
    // The exporters' masked look (figure/colormap.hpp kMaskedColor, kMaskedHatch).
    float stripe = mod(gl_FragCoord.x + gl_FragCoord.y, 8.0);
    color = stripe < 2.0 ? vec3(170.0 / 255.0) : vec3(228.0 / 255.0);
  } else {
    float span = uRange.y - uRange.x;
    float t = span > 0.0 ? clamp((v - uRange.x) / span, 0.0, 1.0) : 0.5;
    // Same index rule as figure::lutIndex, so screen and exported files agree.
    color = texelFetch(uLut, ivec2(min(int(t * 256.0), 255), 0), 0).rgb;
  }
  // Thin separators once cells are big enough to tell apart; fwidth gives cells per pixel.
  vec2 perPixel = fwidth(vCell);
  vec2 f = fract(vCell);
  if (perPixel.x < 0.125 && f.x < perPixel.x) color *= 0.6;
  if (perPixel.y < 0.125 && f.y < perPixel.y) color *= 0.6;
  if (cell.y == uPinned.y || cell.x == uPinned.x) color = mix(color, vec3(1.0), 0.18);
  fragColor = vec4(color, 1.0);
}
