//! A node's disk in the browser: its durable state in IndexedDB, one entry per node, written by
//! the node's own worker before it acknowledges the step that changed it. It outlives the worker,
//! so a crash (terminating the worker) keeps it and a restart reads it back.

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode, WorkerGlobalScope,
};

const DATABASE: &str = "dynamoscope";
const STORE: &str = "disks";

fn key(node_id: u32) -> JsValue {
    JsValue::from_str(&format!("n{node_id}"))
}

fn describe(error: JsValue) -> String {
    error
        .dyn_ref::<web_sys::DomException>()
        .map(|exception| exception.message())
        .unwrap_or_else(|| format!("{error:?}"))
}

/// Resolves when `request` succeeds (with its result) or rejects with its error.
async fn finished(request: &IdbRequest) -> Result<JsValue, String> {
    let promise = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    // A failed request rejects with its error event; the reason is on the request.
    JsFuture::from(promise)
        .await
        .map_err(|event| request_error(request).unwrap_or_else(|| describe(event)))?;
    request.result().map_err(describe)
}

fn request_error(request: &IdbRequest) -> Option<String> {
    request.error().ok().flatten().map(|exception| format!("{}: {}", exception.name(), exception.message()))
}

/// Resolves once the transaction committed: only then is the write durable.
async fn committed(transaction: &IdbTransaction) -> Result<(), String> {
    let promise = Promise::new(&mut |resolve, reject| {
        transaction.set_oncomplete(Some(&resolve));
        transaction.set_onerror(Some(&reject));
        transaction.set_onabort(Some(&reject));
    });
    JsFuture::from(promise).await.map(drop).map_err(describe)
}

pub async fn open() -> Result<IdbDatabase, String> {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let factory =
        scope.indexed_db().map_err(describe)?.ok_or("IndexedDB is not available in this browser")?;
    let request: IdbOpenDbRequest = factory.open_with_u32(DATABASE, 1).map_err(describe)?;
    let upgrade = Closure::<dyn FnMut(JsValue)>::new(|event: JsValue| {
        let target = js_sys::Reflect::get(&event, &"target".into()).unwrap_or(JsValue::UNDEFINED);
        let result = js_sys::Reflect::get(&target, &"result".into()).unwrap_or(JsValue::UNDEFINED);
        if let Ok(database) = result.dyn_into::<IdbDatabase>() {
            let _ = database.create_object_store(STORE);
        }
    });
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let database = finished(&request).await.map_err(|reason| {
        format!("the browser refused the node's disk (IndexedDB): {reason} (a page embedded from another site may be refused storage: docs/EMBED.md)")
    })?;
    drop(upgrade);
    database.dyn_into::<IdbDatabase>().map_err(|_| "IndexedDB returned no database".into())
}

pub async fn write(database: &IdbDatabase, node_id: u32, bytes: &[u8]) -> Result<(), String> {
    let transaction =
        database.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite).map_err(describe)?;
    let store = transaction.object_store(STORE).map_err(describe)?;
    store.put_with_key(&Uint8Array::from(bytes), &key(node_id)).map_err(describe)?;
    committed(&transaction).await
}

pub async fn read(database: &IdbDatabase, node_id: u32) -> Result<Option<Vec<u8>>, String> {
    let transaction = database.transaction_with_str(STORE).map_err(describe)?;
    let store = transaction.object_store(STORE).map_err(describe)?;
    let value = finished(&store.get(&key(node_id)).map_err(describe)?).await?;
    Ok(value.dyn_into::<Uint8Array>().ok().map(|array| array.to_vec()))
}

pub async fn delete(database: &IdbDatabase, node_id: u32) -> Result<(), String> {
    let transaction =
        database.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite).map_err(describe)?;
    let store = transaction.object_store(STORE).map_err(describe)?;
    store.delete(&key(node_id)).map_err(describe)?;
    committed(&transaction).await
}
