// Seed 002 ("Websocket"), 客户端或服务端未收到预期的消息 → 确认消息可靠性, 服务端示例:
// the server acknowledges each message by its id.
// Changed from the article: the import (tidewire for ws) and the port (PORT from the environment, 8080 otherwise).
import { WebSocket } from 'tidewire';

const wss = new WebSocket.Server({ port: Number(process.env.PORT ?? 8080) });

wss.on('connection', (ws) => {
    ws.on('message', (message) => {
        const data = JSON.parse(message);
        console.log('Received message with ID:', data.id);
        ws.send(JSON.stringify({ id: data.id, status: 'received' }));
    });
});
