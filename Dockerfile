# --- build: compile TypeScript, then keep only production dependencies ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig*.json ./
COPY app ./app
COPY middleware ./middleware
COPY routes ./routes
COPY services ./services
COPY protocol ./protocol
COPY client ./client
RUN npm run build && npm prune --omit=dev

# --- runtime ---
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The browser build of the client package, served at /client/switchboard.js.
COPY --from=build /app/client/dist ./client/dist
COPY public ./public
COPY examples/browser ./examples/browser
USER node
EXPOSE 3000
# Slim images have no curl; node's own fetch does the probe.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["node", "dist/app/main.js"]
