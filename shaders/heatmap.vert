#version 430 core
// One quad per heatmap, generated from gl_VertexID so no vertex buffer is needed.
// uRect is the on-screen rectangle in ImGui display coordinates, uCells the matrix
// coordinates (column, row) that its top-left and bottom-right corners show.
uniform mat4 uProjection;
uniform vec4 uRect;
uniform vec4 uCells;
out vec2 vCell;

void main() {
  vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
  vec2 pos = mix(uRect.xy, uRect.zw, corner);
  vCell = mix(uCells.xy, uCells.zw, corner);
  gl_Position = uProjection * vec4(pos, 0.0, 1.0);
}
