// Seed 002, 补偿机制 → 服务端处理：防止重复消息: the server acknowledges each id once and
// ignores duplicates.
// Changed from the article: the import and the port (PORT from the environment). The article's
// snippet uses `wss` without creating it; the line creating it is the one of the snippet above
// it in the article (`new WebSocket.Server({ port: 8080 })`).
import { WebSocket } from 'tidewire';

const wss = new WebSocket.Server({ port: Number(process.env.PORT ?? 8080) });

const processedMessages = new Set();

wss.on('connection', (ws) => {
    ws.on('message', (message) => {
        const data = JSON.parse(message);
        if (!processedMessages.has(data.id)) {
            processedMessages.add(data.id);
            console.log('Processing message:', data);
            ws.send(JSON.stringify({ id: data.id, status: 'received' }));
        } else {
            console.log('Duplicate message ignored:', data.id);
        }
    });
});
